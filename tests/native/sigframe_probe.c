/* Does a signal reach a handler on an alternate stack of N bytes whose top is page-aligned?
 * Exit 42: delivered. Killed by SIGSEGV: get_sigframe() found the frame would overflow the stack.
 * The page below the stack stays mapped, so the handler's own few bytes of stack below ss_sp do not fault:
 * only the kernel's check (__on_sig_stack(sp)) decides. Used by tests/test_sigframe_host.py. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void handler(int sig)
{
	(void)sig;
	_exit(42);
}

int main(int argc, char **argv)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t size = argc > 1 ? strtoul(argv[1], NULL, 0) : 0;
	size_t pages = (size + page - 1) / page + 1;
	char *base = mmap(NULL, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	stack_t ss;
	struct sigaction sa;

	if (base == MAP_FAILED || size == 0)
		return 2;
	ss.ss_sp = base + pages * page - size;
	ss.ss_size = size;
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL))
		return 3;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sa.sa_flags = SA_ONSTACK;
	if (sigaction(SIGUSR1, &sa, NULL))
		return 4;
	raise(SIGUSR1);
	return 5;
}
