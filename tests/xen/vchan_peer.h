/* vchan-peer's parts: the buffer-sharing steps (vchan_peer_share.c), run
 * on a connected xen channel after the ring tests.  0 when all passed. */
#ifndef BULKHEAD_TESTS_XEN_VCHAN_PEER_H
#define BULKHEAD_TESTS_XEN_VCHAN_PEER_H

struct vchan;

int share_server(struct vchan *v);
int share_client(struct vchan *v);

#endif
