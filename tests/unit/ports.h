/* Loopback ports for failure tests: one nothing listens on, one that accepts
 * in the kernel and never answers. */
#ifndef MS_TEST_PORTS_H
#define MS_TEST_PORTS_H

/* A loopback port nothing listens on (bound, read, closed). */
int ms_test_closed_port(void);

/* A loopback listener that never answers; the caller closes *fd. */
int ms_test_silent_port(int *fd);

#endif
