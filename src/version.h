/*
 * version.h - the one place the programs learn their name, version and
 * license, for --version and the end of --help (GNU coding standards).
 */
#ifndef TCPCHAT_VERSION_H
#define TCPCHAT_VERSION_H

/*
 * The license of the binary: tcpchat's sources are MIT, but a build
 * linked with GNU readline (GPL-3.0-or-later) may only be passed on
 * under the GPL.  libedit is BSD-licensed and changes nothing.
 */
#ifdef HAVE_READLINE
#define VERSION_LICENSE                                                        \
	"License GPLv3+: GNU GPL version 3 or later "                          \
	"<https://gnu.org/licenses/gpl.html>.\n"                               \
	"This build links GNU readline; the sources of " PACKAGE_NAME          \
	" are MIT licensed.\n"
#else
#define VERSION_LICENSE "License MIT: <https://opensource.org/licenses/MIT>.\n"
#endif

/* The whole --version text of program prog, newline-terminated. */
#define VERSION_LINE(prog)                                                     \
	prog " (" PACKAGE_NAME ") " PACKAGE_VERSION "\n"                       \
	     "Copyright (C) 2026 The tcpchat developers.\n" VERSION_LICENSE    \
	     "This is free software: you are free to change and "              \
	     "redistribute it.\n"                                              \
	     "There is NO WARRANTY, to the extent permitted by law.\n"

/* The last lines of --help: where bugs go and the home page. */
#define VERSION_HELP_FOOTER                                                    \
	"Report bugs to: <" PACKAGE_BUGREPORT ">\n" PACKAGE_NAME               \
	" home page: <" PACKAGE_URL ">\n"

#endif
