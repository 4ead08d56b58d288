/* version.h - the one place the programs learn their name and version. */
#ifndef TCPCHAT_VERSION_H
#define TCPCHAT_VERSION_H

#define VERSION_LINE(prog) prog " (" PACKAGE_NAME ") " PACKAGE_VERSION "\n"

#endif
