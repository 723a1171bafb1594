/* bt: rarest first and the tit-for-tat choice. */
#include <stdlib.h>

#include "bt.h"

int bt_interested(const uint64_t *sender_has, const uint64_t *recv_has, size_t nunits) {
  for (size_t w = 0; w < BT_WORDS(nunits); ++w)
    if (sender_has[w] & ~recv_has[w])
      return 1;
  return 0;
}

long bt_pick_rarest(const uint64_t *sender_has, const uint64_t *recv_has, const uint64_t *recv_busy, const uint16_t *avail, size_t nunits,
                    unsigned short rand48[3]) {
  long     best       = -1;
  unsigned best_avail = 0;
  long     ties       = 0;
  for (size_t w = 0; w < BT_WORDS(nunits); ++w) {
    uint64_t cand = sender_has[w] & ~recv_has[w] & (recv_busy ? ~recv_busy[w] : ~(uint64_t)0);
    while (cand) {
      size_t u = w * 64 + (size_t)__builtin_ctzll(cand);
      cand &= cand - 1;
      if (u >= nunits)
        break;
      if (best < 0 || avail[u] < best_avail) {
        best       = (long)u;
        best_avail = avail[u];
        ties       = 1;
      } else if (avail[u] == best_avail && nrand48(rand48) % ++ties == 0) {
        best = (long)u; /* reservoir: each tie kept with probability 1/ties */
      }
    }
  }
  return best;
}

size_t bt_choose_unchokes(const double *score, size_t n, size_t slots, unsigned short rand48[3], size_t *out) {
  /* a random key per candidate breaks ties; selection sort of the top
   * `slots` is enough, slots is small */
  size_t k = slots < n ? slots : n;
  long   key[n ? n : 1];
  size_t idx[n ? n : 1];
  for (size_t i = 0; i < n; ++i) {
    idx[i] = i;
    key[i] = nrand48(rand48);
  }
  for (size_t i = 0; i < k; ++i) {
    size_t best = i;
    for (size_t j = i + 1; j < n; ++j) {
      size_t a = idx[j], b = idx[best];
      if (score[a] > score[b] || (score[a] == score[b] && key[a] < key[b]))
        best = j;
    }
    size_t t  = idx[i];
    idx[i]    = idx[best];
    idx[best] = t;
    out[i]    = idx[i];
  }
  return k;
}
