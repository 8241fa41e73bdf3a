/*
 * iommud-standin: a small C stand-in for the Swift iommud, used ONLY to prove the
 * systemd integration, packaging and sandbox mechanics before the real daemon exists
 * (Tests/systemd/README.md). It implements just enough of the contract in
 * ARCHITECTURE.md to be observed from outside:
 *
 *   iommud run [--config FILE] [--foreground]
 *       sd_notify READY=1/STATUS=/WATCHDOG=1/RELOADING=1/STOPPING=1 from the main
 *       process; /metrics on the socket(s) passed by systemd (sd_listen_fds), else on
 *       [http] listen; control socket [control] socket (mode 0660); reads [sources]
 *       kmsg and counts Intel "DMAR: [DMA Read|Write ...] Request device [BB:DD.F]"
 *       records (facility 0 only, unless accept_user_facility = true); one journal
 *       entry per fault (IOMMU_DEVICE=...) when [journal] enabled; a checkpoint in
 *       [state] directory. Exit codes 77 (EPERM/EACCES on kmsg), 69 (kmsg missing),
 *       74 (state dir unusable), 78 (config error).
 *   iommud status [--json] [--socket PATH]   exit 3 when no daemon answers
 *   iommud check-config [FILE] | version | --help | help SUB
 *   iommud --generate-completion-script bash|zsh|fish
 *
 * It is deliberately not the product: tiny TOML subset, one fault format.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#define VERSION "0.0.0-standin"
#define MSGID_FAULT "c0a8e1f2d3b4456789abcdef01234567"
#define MSGID_STARTED "c0a8e1f2d3b4456789abcdef01234501"
#define MSGID_STOPPED "c0a8e1f2d3b4456789abcdef01234502"

struct config {
	char kmsg[256], control[256], statedir[256], listen[128];
	int accept_user, journal;
};
static struct config cfg;
static const char *config_path = "/etc/iommud/iommud.toml";

#define MAXDEV 64
struct fault { char device[16]; char kind[16]; char reason[8]; unsigned long n; };
static struct fault faults[MAXDEV];
static int nfaults;
static unsigned long records, lost, last_seq, reloads;
static int reload_ok = 1;
static int foreground;

static void logmsg(int prio, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (foreground || !cfg.journal)
		fprintf(stderr, "iommud: %s\n", buf);
	else
		sd_journal_send("MESSAGE=%s", buf, "PRIORITY=%d", prio, "SYSLOG_IDENTIFIER=iommud", NULL);
}

static void defaults(struct config *c)
{
	memset(c, 0, sizeof *c);
	strcpy(c->kmsg, "/dev/kmsg");
	strcpy(c->control, "/run/iommud/control.sock");
	strcpy(c->statedir, "/var/lib/iommud");
	strcpy(c->listen, "[::]:10111");
	c->journal = 1;
}

/* The TOML subset the tests use: [section], key = "string" | true | false | [..].
 * Unknown keys in known sections are errors (file, line, key) like the contract. */
static int load_config(const char *path, struct config *c, int must_exist)
{
	FILE *f = fopen(path, "r");
	char line[512], section[64] = "";
	int ln = 0;
	defaults(c);
	if (!f) {
		if (errno == ENOENT && !must_exist)
			return 0;
		fprintf(stderr, "iommud: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f)) {
		char *p = line, *k, *v, *e;
		ln++;
		while (*p == ' ' || *p == '\t') p++;
		if ((e = strchr(p, '#')) && !strchr(p, '"')) *e = 0;
		e = p + strlen(p);
		while (e > p && (e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) *--e = 0;
		if (!*p || *p == '#') continue;
		if (*p == '[') {
			snprintf(section, sizeof section, "%.*s", (int)strcspn(p + 1, "]"), p + 1);
			continue;
		}
		if (!(v = strchr(p, '='))) goto bad;
		*v++ = 0;
		k = p;
		for (e = k + strlen(k); e > k && (e[-1] == ' ' || e[-1] == '\t'); ) *--e = 0;
		while (*v == ' ' || *v == '\t') v++;
		if (*v == '"') { v++; if ((e = strchr(v, '"'))) *e = 0; }
#define IS(s, key) (!strcmp(section, s) && !strcmp(k, key))
		if (IS("sources", "kmsg")) snprintf(c->kmsg, sizeof c->kmsg, "%s", v);
		else if (IS("sources", "accept_user_facility")) c->accept_user = !strcmp(v, "true");
		else if (IS("control", "socket")) snprintf(c->control, sizeof c->control, "%s", v);
		else if (IS("state", "directory")) snprintf(c->statedir, sizeof c->statedir, "%s", v);
		else if (IS("journal", "enabled")) c->journal = !strcmp(v, "true");
		else if (IS("http", "listen")) {
			char *q = strchr(v, '"');
			if (q) { q++; v = q; if ((e = strchr(q, '"'))) *e = 0; }
			snprintf(c->listen, sizeof c->listen, "%s", v);
		} else if (!strcmp(section, "sources") || !strcmp(section, "control") ||
			   !strcmp(section, "state") || !strcmp(section, "journal") ||
			   !strcmp(section, "http")) {
			/* other keys of the contract are accepted and ignored by the stand-in */
			static const char *ok[] = { "interrupts", "sysfs", "boot_id", "cmdline",
				"web_config", "checkpoint_interval", NULL };
			int i, known = 0;
			for (i = 0; ok[i]; i++) known |= !strcmp(k, ok[i]);
			if (!known) goto badkey;
		}
#undef IS
		continue;
badkey:
		fprintf(stderr, "iommud: %s:%d: unknown key '%s' in [%s]\n", path, ln, k, section);
		fclose(f);
		return -1;
bad:
		fprintf(stderr, "iommud: %s:%d: cannot parse\n", path, ln);
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

static void count_fault(const char *text, unsigned long seq)
{
	/* DMAR: [DMA Read NO_PASID] Request device [5a:00.0] fault addr 0x.. [fault reason 0x06] ... */
	const char *kind, *d = strstr(text, "Request device [");
	char dev[16], reason[8] = "";
	unsigned b, s, fn;
	const char *r;
	int i;
	if (strncmp(text, "DMAR: [DMA ", 11) || !d) return;
	kind = !strncmp(text + 11, "Read", 4) ? "dma-read" : "dma-write";
	d += 16;
	if (!strncmp(d, "0x", 2)) d += 2;
	if (sscanf(d, "%x:%x.%u", &b, &s, &fn) != 3) return;
	snprintf(dev, sizeof dev, "0000:%02x:%02x.%u", b & 0xff, s & 0x1f, fn & 7);
	if ((r = strstr(text, "[fault reason "))) {
		unsigned rv;
		r += 14;
		if (sscanf(r, "%x", &rv) == 1) snprintf(reason, sizeof reason, "0x%02x", rv & 0xff);
	}
	for (i = 0; i < nfaults; i++)
		if (!strcmp(faults[i].device, dev) && !strcmp(faults[i].kind, kind) && !strcmp(faults[i].reason, reason))
			break;
	if (i == nfaults) {
		if (nfaults == MAXDEV) return;
		nfaults++;
		snprintf(faults[i].device, sizeof faults[i].device, "%s", dev);
		snprintf(faults[i].kind, sizeof faults[i].kind, "%s", kind);
		snprintf(faults[i].reason, sizeof faults[i].reason, "%s", reason);
	}
	faults[i].n++;
	if (cfg.journal)
		sd_journal_send("MESSAGE=IOMMU fault: %s %s (stand-in)", dev, kind,
				"MESSAGE_ID=" MSGID_FAULT, "PRIORITY=3", "SYSLOG_IDENTIFIER=iommud",
				"IOMMU_VENDOR=intel", "IOMMU_UNIT=unknown", "IOMMU_DEVICE=%s", dev,
				"IOMMU_KIND=%s", kind, "IOMMU_REASON=%s", reason,
				"KMSG_SEQ=%lu", seq, "KMSG_TEXT=%s", text, NULL);
}

static void read_kmsg(int fd)
{
	char buf[8192];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf - 1);
		unsigned pri; unsigned long seq; char *semi;
		if (n < 0 && errno == EPIPE) { lost++; continue; }
		if (n <= 0) return;
		buf[n] = 0;
		if (sscanf(buf, "%u,%lu,", &pri, &seq) != 2 || !(semi = strchr(buf, ';'))) continue;
		records++;
		last_seq = seq;
		semi[strcspn(semi, "\n")] = 0;
		if ((pri >> 3) != 0 && !cfg.accept_user) continue;
		count_fault(semi + 1, seq);
	}
}

static int render_metrics(char *out, size_t len)
{
	size_t o = 0;
	int i;
#define P(...) do { int _n = snprintf(out + o, len - o, __VA_ARGS__); if (_n > 0 && (size_t)_n < len - o) o += _n; } while (0)
	P("# HELP iommu_faults_total IOMMU faults logged by the kernel.\n# TYPE iommu_faults_total counter\n");
	for (i = 0; i < nfaults; i++)
		P("iommu_faults_total{unit=\"unknown\",device=\"%s\",vendor=\"intel\",kind=\"%s\",reason=\"%s\",recoverable=\"false\"} %lu\n",
		  faults[i].device, faults[i].kind, faults[i].reason, faults[i].n);
	P("# HELP iommud_kmsg_records_total kmsg records read.\n# TYPE iommud_kmsg_records_total counter\niommud_kmsg_records_total %lu\n", records);
	P("# HELP iommud_kmsg_lost_records_total kmsg records never seen.\n# TYPE iommud_kmsg_lost_records_total counter\niommud_kmsg_lost_records_total %lu\n", lost);
	P("# HELP iommud_kmsg_last_seq Last kmsg sequence number read.\n# TYPE iommud_kmsg_last_seq gauge\niommud_kmsg_last_seq %lu\n", last_seq);
	P("# HELP iommud_config_last_reload_successful Whether the last reload worked.\n# TYPE iommud_config_last_reload_successful gauge\niommud_config_last_reload_successful %d\n", reload_ok);
	P("# HELP iommud_standin_reloads_total Reloads seen by the stand-in.\n# TYPE iommud_standin_reloads_total counter\niommud_standin_reloads_total %lu\n", reloads);
	P("# HELP iommud_build_info Build information.\n# TYPE iommud_build_info gauge\niommud_build_info{version=\"%s\",swift=\"none (C stand-in)\"} 1\n", VERSION);
#undef P
	return (int)o;
}

static void serve_http(int lfd)
{
	static char body[65536];
	char req[2048], head[256];
	int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), n, blen, got = 0;
	struct pollfd p;
	if (c < 0) return;
	p.fd = c; p.events = POLLIN;
	while (got < (int)sizeof req - 1 && poll(&p, 1, 2000) > 0) {
		n = read(c, req + got, sizeof req - 1 - got);
		if (n <= 0) break;
		got += n; req[got] = 0;
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n")) break;
	}
	req[got] = 0;
	if (!strncmp(req, "GET /metrics ", 13) || !strncmp(req, "GET /metrics?", 13)) {
		blen = render_metrics(body, sizeof body);
		n = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", blen);
	} else {
		blen = snprintf(body, sizeof body, "not found\n");
		n = snprintf(head, sizeof head, "HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", blen);
	}
	if (write(c, head, n) < 0 || write(c, body, blen) < 0) { /* client went away */ }
	close(c);
}

static void serve_control(int lfd)
{
	char buf[4096], req[64] = "";
	int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), n, i;
	struct pollfd p;
	if (c < 0) return;
	p.fd = c; p.events = POLLIN;
	if (poll(&p, 1, 1000) > 0 && (n = read(c, req, sizeof req - 1)) > 0) req[n] = 0;
	if (strstr(req, "json")) {
		n = snprintf(buf, sizeof buf, "{\"standin\":true,\"records\":%lu,\"lost\":%lu,\"last_seq\":%lu,\"devices\":%d}\n",
			     records, lost, last_seq, nfaults);
	} else {
		n = snprintf(buf, sizeof buf, "iommud %s (stand-in) running\nkmsg records read: %lu (exact), lost: %lu, last seq %lu\n",
			     VERSION, records, lost, last_seq);
		for (i = 0; i < nfaults && n < (int)sizeof buf - 100; i++)
			n += snprintf(buf + n, sizeof buf - n, "  %s %s reason %s: %lu faults logged (lower bound)\n",
				      faults[i].device, faults[i].kind, faults[i].reason, faults[i].n);
	}
	if (write(c, buf, n) < 0) { /* ignore */ }
	close(c);
}

static int listen_tcp(const char *spec)
{
	/* "[::]:10111" or "127.0.0.1:10111" */
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in a4 = { .sin_family = AF_INET };
	const char *colon = strrchr(spec, ':');
	char host[64];
	int fd, one = 1;
	if (!colon) return -1;
	snprintf(host, sizeof host, "%.*s", (int)(colon - spec), spec);
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = 0;
		if (inet_pton(AF_INET6, host, &a6.sin6_addr) != 1) return -1;
		a6.sin6_port = htons(atoi(colon + 1));
		fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) return -1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, (void *)&a6, sizeof a6) < 0 || listen(fd, 64) < 0) { close(fd); return -1; }
	} else {
		if (inet_pton(AF_INET, host, &a4.sin_addr) != 1) return -1;
		a4.sin_port = htons(atoi(colon + 1));
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) return -1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, (void *)&a4, sizeof a4) < 0 || listen(fd, 64) < 0) { close(fd); return -1; }
	}
	return fd;
}

static int listen_control(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct group *g;
	struct stat st;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || strlen(path) >= sizeof a.sun_path) return -1;
	strcpy(a.sun_path, path);
	unlink(path);
	if (bind(fd, (void *)&a, sizeof a) < 0 || listen(fd, 16) < 0) { close(fd); return -1; }
	/* contract: mode 0660, group adm. Under the unit the process's group already is
	 * adm (Group=adm), so no chown is needed (and @chown is filtered). */
	if (chmod(path, 0660) < 0) logmsg(4, "chmod %s: %s", path, strerror(errno));
	if ((g = getgrnam("adm")) && stat(path, &st) == 0 && st.st_gid != g->gr_gid &&
	    chown(path, (uid_t)-1, g->gr_gid) < 0)
		logmsg(5, "control socket stays group %u (chown to adm: %s)", (unsigned)st.st_gid, strerror(errno));
	return fd;
}

static int write_checkpoint(void)
{
	char tmp[300], fin[300];
	FILE *f;
	snprintf(tmp, sizeof tmp, "%s/checkpoint.tmp", cfg.statedir);
	snprintf(fin, sizeof fin, "%s/checkpoint", cfg.statedir);
	if (!(f = fopen(tmp, "w"))) return -1;
	fprintf(f, "version 1\nlast_seq %lu\nstandin 1\n", last_seq);
	if (fclose(f) != 0 || rename(tmp, fin) != 0) return -1;
	return 0;
}

static int cmd_run(void)
{
	struct pollfd pf[16];
	int lfds[8], nl = 0, kfd, cfd, sfd, tfd = -1, i, n;
	uint64_t wd_usec = 0;
	sigset_t ss;

	if (load_config(config_path, &cfg, 0) < 0)
		return 78;
	kfd = open(cfg.kmsg, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kfd < 0) {
		int e = errno;
		fprintf(stderr, "iommud: cannot read %s: %s\n", cfg.kmsg, strerror(e));
		return (e == EPERM || e == EACCES) ? 77 : 69;
	}
	if (mkdir(cfg.statedir, 0750) < 0 && errno != EEXIST) { fprintf(stderr, "iommud: %s: %s\n", cfg.statedir, strerror(errno)); return 74; }
	if (write_checkpoint() < 0) { fprintf(stderr, "iommud: state directory %s unusable: %s\n", cfg.statedir, strerror(errno)); return 74; }

	n = sd_listen_fds(1);
	for (i = 0; i < n && nl < 8; i++) lfds[nl++] = SD_LISTEN_FDS_START + i;
	if (nl == 0) {
		int fd = listen_tcp(cfg.listen);
		if (fd < 0) { fprintf(stderr, "iommud: cannot listen on %s: %s\n", cfg.listen, strerror(errno)); return 69; }
		lfds[nl++] = fd;
	}
	cfd = listen_control(cfg.control);
	if (cfd < 0) { fprintf(stderr, "iommud: control socket %s: %s\n", cfg.control, strerror(errno)); return 74; }

	sigemptyset(&ss);
	sigaddset(&ss, SIGHUP); sigaddset(&ss, SIGTERM); sigaddset(&ss, SIGINT);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	sfd = signalfd(-1, &ss, SFD_CLOEXEC);
	if (sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec > 0) {
		struct itimerspec it = { .it_interval = { (time_t)(wd_usec / 2000000), (long)((wd_usec / 2) % 1000000) * 1000 } };
		it.it_value = it.it_interval;
		tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
		timerfd_settime(tfd, 0, &it, NULL);
	}
	read_kmsg(kfd);
	if (cfg.journal)
		sd_journal_send("MESSAGE=iommud %s (stand-in) started: %d listening socket(s)%s", VERSION, nl,
				n > 0 ? " from systemd" : "", "MESSAGE_ID=" MSGID_STARTED, "PRIORITY=6",
				"SYSLOG_IDENTIFIER=iommud", NULL);
	sd_notifyf(0, "READY=1\nSTATUS=watching %s (stand-in), %lu records read", cfg.kmsg, records);

	for (;;) {
		int np = 0;
		pf[np++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		pf[np++] = (struct pollfd){ .fd = kfd, .events = POLLIN };
		pf[np++] = (struct pollfd){ .fd = cfd, .events = POLLIN };
		pf[np++] = (struct pollfd){ .fd = tfd, .events = POLLIN };
		for (i = 0; i < nl; i++) pf[np++] = (struct pollfd){ .fd = lfds[i], .events = POLLIN };
		if (poll(pf, np, 5000) < 0 && errno != EINTR) return 70;
		if (pf[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof si) == sizeof si) {
				if (si.ssi_signo == SIGHUP) {
					struct config nc;
					sd_notify(0, "RELOADING=1\nSTATUS=reloading configuration");
					reloads++;
					reload_ok = load_config(config_path, &nc, 0) == 0;
					if (reload_ok) { cfg.accept_user = nc.accept_user; cfg.journal = nc.journal; }
					logmsg(6, "configuration reloaded (%s)", reload_ok ? "ok" : "failed, kept the old one");
					sd_notifyf(0, "READY=1\nSTATUS=watching %s (stand-in), %lu records read", cfg.kmsg, records);
				} else {
					sd_notify(0, "STOPPING=1\nSTATUS=stopping");
					write_checkpoint();
					unlink(cfg.control);
					if (cfg.journal)
						sd_journal_send("MESSAGE=iommud (stand-in) stopped", "MESSAGE_ID=" MSGID_STOPPED,
								"PRIORITY=6", "SYSLOG_IDENTIFIER=iommud", NULL);
					return 0;
				}
			}
		}
		if (pf[1].revents) read_kmsg(kfd);
		if (pf[2].revents & POLLIN) serve_control(cfd);
		if (pf[3].revents & POLLIN) {
			uint64_t x;
			if (read(tfd, &x, sizeof x) > 0) sd_notify(0, "WATCHDOG=1");
			write_checkpoint();
		}
		for (i = 0; i < nl; i++) if (pf[4 + i].revents & POLLIN) serve_http(lfds[i]);
	}
}

static int cmd_status(const char *path, int json)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char buf[4096];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), n;
	snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
	if (connect(fd, (void *)&a, sizeof a) < 0) {
		if (errno == EACCES || errno == EPERM) {
			fprintf(stderr, "iommud: permission denied on %s (members of group adm may ask)\n", path);
			return 4;
		}
		fprintf(stderr, "iommud: no daemon is running (nothing answers on %s)\n", path);
		return 3;
	}
	if (write(fd, json ? "status json\n" : "status\n", json ? 12 : 7) < 0) return 3;
	while ((n = read(fd, buf, sizeof buf)) > 0) fwrite(buf, 1, n, stdout);
	return 0;
}

static const char *subs[][2] = {
	{ "run", "Run the daemon (what systemd starts)." },
	{ "status", "Ask the running daemon." },
	{ "replay", "Classify saved logs offline." },
	{ "log", "Past faults, from the journal." },
	{ "check-config", "Validate and print the effective config." },
	{ "version", "Print the version." },
};

static void help(const char *sub)
{
	unsigned i;
	if (!sub) {
		printf("OVERVIEW: watch IOMMU / DMA-remapping faults (C stand-in for tests)\n\n"
		       "USAGE: iommud <subcommand>\n\nOPTIONS:\n  -h, --help              Show help information.\n\nSUBCOMMANDS:\n");
		for (i = 0; i < sizeof subs / sizeof subs[0]; i++) printf("  %-24s%s\n", subs[i][0], subs[i][1]);
		printf("\n  See 'iommud help <subcommand>' for detailed help.\n");
		return;
	}
	for (i = 0; i < sizeof subs / sizeof subs[0]; i++)
		if (!strcmp(sub, subs[i][0])) {
			printf("OVERVIEW: %s\n\nUSAGE: iommud %s%s\n\nOPTIONS:\n", subs[i][1], sub,
			       !strcmp(sub, "run") ? " [--config <config>] [--foreground]" :
			       !strcmp(sub, "status") ? " [--json] [--socket <socket>]" : "");
			if (!strcmp(sub, "run"))
				printf("  --config <config>       Configuration file. (default: /etc/iommud/iommud.toml)\n"
				       "  --foreground            Log to stderr instead of the journal.\n");
			if (!strcmp(sub, "status"))
				printf("  --json                  One JSON object.\n"
				       "  --socket <socket>       Control socket. (default: /run/iommud/control.sock)\n");
			printf("  -h, --help              Show help information.\n");
			return;
		}
}

static int completion(const char *shell)
{
	if (!strcmp(shell, "bash"))
		printf("_iommud() {\n    local cur=\"${COMP_WORDS[COMP_CWORD]}\"\n"
		       "    if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
		       "        COMPREPLY=($(compgen -W \"run status replay log check-config version help -h --help\" -- \"$cur\"))\n"
		       "    fi\n}\ncomplete -F _iommud iommud\n");
	else if (!strcmp(shell, "zsh"))
		printf("#compdef iommud\n_arguments '1: :(run status replay log check-config version help)'\n");
	else if (!strcmp(shell, "fish"))
		printf("complete -c iommud -f -n '__fish_use_subcommand' -a 'run status replay log check-config version help'\n");
	else return 64;
	return 0;
}

int main(int argc, char **argv)
{
	const char *sock = NULL;
	int i, json = 0;
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) { help(NULL); return argc < 2; }
	if (!strcmp(argv[1], "--generate-completion-script")) return argc > 2 ? completion(argv[2]) : 64;
	if (!strcmp(argv[1], "help")) { help(argc > 2 ? argv[2] : NULL); return 0; }
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) { printf("%s\n", VERSION); return 0; }
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc) config_path = argv[++i];
		else if (!strcmp(argv[i], "--socket") && i + 1 < argc) sock = argv[++i];
		else if (!strcmp(argv[i], "--json")) json = 1;
		else if (!strcmp(argv[i], "--foreground")) foreground = 1;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { help(argv[1]); return 0; }
		else if (argv[i][0] != '-' && !strcmp(argv[1], "check-config")) config_path = argv[i];
	}
	if (!strcmp(argv[1], "run")) return cmd_run();
	if (!strcmp(argv[1], "status")) {
		if (!sock) { load_config(config_path, &cfg, 0); sock = cfg.control; }
		return cmd_status(sock, json);
	}
	if (!strcmp(argv[1], "check-config")) {
		if (load_config(config_path, &cfg, 1) < 0) return 78;
		printf("[sources]\nkmsg = \"%s\"\naccept_user_facility = %s\n\n[control]\nsocket = \"%s\"\n\n[state]\ndirectory = \"%s\"\n\n[journal]\nenabled = %s\n",
		       cfg.kmsg, cfg.accept_user ? "true" : "false", cfg.control, cfg.statedir, cfg.journal ? "true" : "false");
		return 0;
	}
	fprintf(stderr, "iommud (stand-in): '%s' is not implemented by the stand-in\n", argv[1]);
	return 64;
}
