/* tcpchatd.c - placeholder main: filled in by its own issue. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "version.h"

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		fputs(VERSION_LINE("tcpchatd"), stdout);
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		printf("usage: tcpchatd [--help] [--version]\n");
		return 0;
	}
	fprintf(stderr, "tcpchatd: not implemented yet\n");
	return 1;
}
