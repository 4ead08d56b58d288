/* command.c - a client's line taken apart: text or a command. */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "command.h"

static const struct {
	const char *name;
	enum command_kind kind;
	const char *usage;
} command_table[] = {
    {"nick", COMMAND_NICK, "/nick NAME"},
    {"who", COMMAND_WHO, "/who"},
    {"me", COMMAND_ME, "/me ACTION"},
    {"msg", COMMAND_MSG, "/msg ID|NAME TEXT"},
    {"quit", COMMAND_QUIT, "/quit [REASON]"},
    {"help", COMMAND_HELP, "/help"},
};

#define COMMAND_COUNT (sizeof(command_table) / sizeof(command_table[0]))

static int
command_is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Moves *p past spaces, up to end. */
static void
command_skip_space(const char **p, const char *end)
{
	while (*p < end && command_is_space(**p))
		(*p)++;
}

/* The length of the word at p, up to end. */
static size_t
command_word(const char *p, const char *end)
{
	const char *q = p;

	while (q < end && !command_is_space(*q))
		q++;
	return (size_t)(q - p);
}

/* The rest from p to end, without the spaces around it. */
static void
command_rest(const char *p, const char *end, const char **arg, size_t *len)
{
	command_skip_space(&p, end);
	while (end > p && command_is_space(end[-1]))
		end--;
	*arg = p;
	*len = (size_t)(end - p);
}

void
command_parse(const char *line, size_t len, struct command *cmd)
{
	const char *end = line + len, *p = line + 1;
	size_t word;

	memset(cmd, 0, sizeof(*cmd));
	cmd->kind = COMMAND_TEXT;
	cmd->arg = line;
	cmd->arg_len = len;
	if (len == 0 || line[0] != '/')
		return;
	if (len >= 2 && line[1] == '/') {
		/* "//text": the text "/text". */
		cmd->arg = line + 1;
		cmd->arg_len = len - 1;
		return;
	}
	word = command_word(p, end);
	cmd->kind = COMMAND_UNKNOWN;
	cmd->target = line;
	cmd->target_len = word + 1;
	cmd->arg = NULL;
	cmd->arg_len = 0;
	for (size_t i = 0; i < COMMAND_COUNT; i++)
		if (strlen(command_table[i].name) == word &&
		    strncasecmp(command_table[i].name, p, word) == 0)
			cmd->kind = command_table[i].kind;
	if (cmd->kind == COMMAND_UNKNOWN)
		return;
	cmd->target = NULL;
	cmd->target_len = 0;
	p += word;
	if (cmd->kind == COMMAND_MSG) {
		command_skip_space(&p, end);
		cmd->target = p;
		cmd->target_len = command_word(p, end);
		p += cmd->target_len;
	}
	command_rest(p, end, &cmd->arg, &cmd->arg_len);
	switch (cmd->kind) {
	case COMMAND_NICK:
	case COMMAND_ME:
		cmd->usage = cmd->arg_len == 0;
		break;
	case COMMAND_MSG:
		cmd->usage = cmd->target_len == 0 || cmd->arg_len == 0;
		break;
	default:
		break;
	}
}

const char *
command_usage(enum command_kind kind)
{
	for (size_t i = 0; i < COMMAND_COUNT; i++)
		if (command_table[i].kind == kind)
			return command_table[i].usage;
	return "";
}
