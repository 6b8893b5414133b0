/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* joule report: reports and a push from a window of ledger records. */
#ifndef JOULE_REPORT_CLI_H
#define JOULE_REPORT_CLI_H

#include "joule/cli.h"

/* joule report --from-ledger FILE ... */
int cmd_report(int argc, char **argv);

#endif /* JOULE_REPORT_CLI_H */
