// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* joule's entry point: subcommand dispatch. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		fprintf(stderr, "usage: joule COMMAND [ARGS]\n");
		return 2;
	}
	fprintf(stderr, "joule: unknown command '%s'\n", argv[1]);
	return 2;
}
