/* Writes the fpstate of a signal frame the running kernel delivers to argv[1] (extended_size bytes: the
 * XSAVE image and the FP_XSTATE_MAGIC2 word after it), for tests/test_host.py. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

static const char *path;

static void handler(int sig, siginfo_t *si, void *ctx)
{
	const unsigned char *fp = (const unsigned char *)((ucontext_t *)ctx)->uc_mcontext.fpregs;
	uint32_t extended_size;
	int fd;

	(void)sig;
	(void)si;
	memcpy(&extended_size, fp + 468, 4); /* struct _fpx_sw_bytes at 464: magic1, extended_size */
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	if (fd < 0 || write(fd, fp, extended_size) != (ssize_t)extended_size)
		_exit(2);
	close(fd);
}

int main(int argc, char **argv)
{
	struct sigaction sa;

	if (argc != 2)
		return 2;
	path = argv[1];
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR1, &sa, 0);
	raise(SIGUSR1);
	return 0;
}
