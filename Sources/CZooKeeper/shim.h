// Debian's ZooKeeper C client (libzookeeper-mt-dev) as Swift sees it.
#ifndef STORM_CZOOKEEPER_SHIM_H
#define STORM_CZOOKEEPER_SHIM_H
#include <zookeeper/zookeeper.h>

// ZOO_OPEN_ACL_UNSAFE is a mutable C global, which Swift 6 refuses to touch; hand out its address instead.
static inline struct ACL_vector *czk_open_acl_unsafe(void) { return &ZOO_OPEN_ACL_UNSAFE; }
// ZOO_CREATOR_ALL_ACL: every right for the identities the creating session authenticated as, none for others.
static inline struct ACL_vector *czk_creator_all_acl(void) { return &ZOO_CREATOR_ALL_ACL; }
#endif
