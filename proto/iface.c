/* iface: the interface names. */
#include <string.h>

#include "iface.h"

static const struct {
  const char *name;
  unsigned    mask;
} words[] = {
    {"info", P4P_IF_INFO},   {"policy", P4P_IF_POLICY}, {"guidance", P4P_IF_GUIDANCE}, {"capability", P4P_IF_CAPABILITY},
    {"pidmap", P4P_IF_INFO}, {"costs", P4P_IF_POLICY},  {"all", P4P_IF_ALL},
};

int proto_parse_interfaces(const char *s, unsigned *mask) {
  unsigned bits = 0;
  s += strspn(s, ", ");
  while (*s) {
    size_t len = strcspn(s, ", "), k;
    for (k = 0; k < sizeof words / sizeof words[0]; ++k)
      if (strlen(words[k].name) == len && !strncmp(words[k].name, s, len))
        break;
    if (k == sizeof words / sizeof words[0])
      return -1;
    bits |= words[k].mask;
    s += len;
    s += strspn(s, ", ");
  }
  if (!bits)
    return -1;
  *mask = bits;
  return 0;
}

const char *proto_interface_name(enum p4p_interface iface) { return (unsigned)iface < P4P_IFACE_COUNT ? words[iface].name : "?"; }
