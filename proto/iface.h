/* The P4P interfaces, named once for the tracker's config, its portal
 * client and the iTracker's access control.
 *
 * The paper's info (PID map, address lookup), policy (p-distances and
 * policies), capability (provider servers), plus guidance (swarm statistics
 * in, peering weights out).  A set of interfaces is a mask of
 * P4P_IF_BIT(interface). */
#ifndef PROTO_IFACE_H
#define PROTO_IFACE_H

enum p4p_interface { P4P_IFACE_INFO, P4P_IFACE_POLICY, P4P_IFACE_GUIDANCE, P4P_IFACE_CAPABILITY, P4P_IFACE_COUNT };

#define P4P_IF_BIT(iface) (1u << (iface))
#define P4P_IF_INFO       P4P_IF_BIT(P4P_IFACE_INFO)
#define P4P_IF_POLICY     P4P_IF_BIT(P4P_IFACE_POLICY)
#define P4P_IF_GUIDANCE   P4P_IF_BIT(P4P_IFACE_GUIDANCE)
#define P4P_IF_CAPABILITY P4P_IF_BIT(P4P_IFACE_CAPABILITY)
#define P4P_IF_ALL        (P4P_IF_BIT(P4P_IFACE_COUNT) - 1)

/* "info,policy,guidance,capability" (comma or space separated), "all", or
 * the tracker's older words for the first two, "pidmap" and "costs".
 * 0, or -1 when a word is unknown or the list is empty. */
int proto_parse_interfaces(const char *s, unsigned *mask);
/* "info", "policy", "guidance", "capability"; "?" for anything else. */
const char *proto_interface_name(enum p4p_interface iface);

#endif
