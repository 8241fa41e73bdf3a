#ifndef IOMMUD_CSYSTEMD_SHIM_H
#define IOMMUD_CSYSTEMD_SHIM_H
// libsystemd as Swift sees it. Variadic calls (sd_journal_send, sd_notifyf) do not import;
// the daemon uses sd_journal_sendv and sd_notify with pre-formatted strings instead.
#include <sys/uio.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include <systemd/sd-id128.h>
#include <systemd/sd-login.h>
#endif
