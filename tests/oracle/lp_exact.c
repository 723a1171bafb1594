/* Exact reference for the P4P optimization: the whole level-1 LP in GLPK.
 *
 *   min alpha
 *   s.t. sum_k sum_ij (m_e / c_e) t^k_ij I_e(i,j) - alpha <= -m_e b_e / c_e
 *        sum_j t^k_ij <= u^k_i,  sum_i t^k_ij <= d^k_j,  sum_ij t^k_ij = T^k
 *
 * over the usable supply x demand pairs of every swarm.  Rates are scaled
 * by the largest T^k so the LP's numbers are near 1. */
#include "lp_exact.h"
#include "provider/opt_common.h"

#include <glpk.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int lp_exact_optimize(const struct prov_topology *t, const struct prov_swarm_input *swarms, int nswarms, const struct prov_opt_params *params,
                      struct prov_opt_result *res, char *err, size_t errlen) {
  struct prov_opt_prep p;
  memset(res, 0, sizeof *res);
  if (prov_opt_prepare(t, swarms, nswarms, params, &p, err, errlen) < 0)
    return -1;
  if (prov_opt_result_alloc(t, nswarms, res, err, errlen) < 0) {
    prov_opt_prep_free(&p);
    return -1;
  }
  int    n = t->npops, L = t->nlinks;
  double scale = 0;
  for (int k = 0; k < nswarms; k++)
    scale = fmax(scale, p.swarms[k].t_opt);
  if (scale <= 0)
    scale = 1;

  /* count rows, columns, nonzeros */
  int *link_row = calloc((size_t)(L ? L : 1), sizeof *link_row);
  if (!link_row)
    goto oom_early;
  int nrows = 0;
  for (int e = 0; e < L; e++)
    if (t->links[e].capacity_kbps > 0 && p.mult[e] > 0)
      link_row[e] = ++nrows;
  int    nlinkrows = nrows;
  size_t ncols = 1, nnz = (size_t)nlinkrows;
  for (int k = 0; k < nswarms; k++) {
    const struct prov_opt_swarm *s = &p.swarms[k];
    if (s->t_opt <= 0)
      continue;
    nrows += s->ns + s->nd + 1;
    for (int a = 0; a < s->ns; a++)
      for (int b = 0; b < s->nd; b++) {
        size_t ij = (size_t)s->sp[a] * n + s->dp[b];
        if (!p.usable[ij])
          continue;
        ncols++;
        nnz += 3 + (size_t)t->routes[ij].nlinks;
      }
  }
  glp_prob *lp = glp_create_prob();
  int      *ia = malloc((nnz + 1) * sizeof *ia);
  int      *ja = malloc((nnz + 1) * sizeof *ja);
  double   *ar = malloc((nnz + 1) * sizeof *ar);
  /* column -> (swarm, i, j) to read the solution back */
  int *cs = malloc(ncols * sizeof *cs), *ci = malloc(ncols * sizeof *ci), *cj = malloc(ncols * sizeof *cj);
  if (!ia || !ja || !ar || !cs || !ci || !cj)
    goto oom;
  glp_set_obj_dir(lp, GLP_MIN);
  if (nrows)
    glp_add_rows(lp, nrows);
  glp_add_cols(lp, (int)ncols);
  glp_set_col_bnds(lp, 1, GLP_LO, 0.0, 0.0);
  glp_set_obj_coef(lp, 1, 1.0);
  size_t z = 0;
  for (int e = 0; e < L; e++) {
    if (!link_row[e])
      continue;
    glp_set_row_bnds(lp, link_row[e], GLP_UP, 0.0, -p.mult[e] * t->links[e].background_kbps / t->links[e].capacity_kbps);
    z++;
    ia[z] = link_row[e];
    ja[z] = 1;
    ar[z] = -1.0;
  }
  int row = nlinkrows, col = 1;
  for (int k = 0; k < nswarms; k++) {
    const struct prov_opt_swarm *s = &p.swarms[k];
    if (s->t_opt <= 0)
      continue;
    int srow = row + 1, drow = row + 1 + s->ns, trow = row + 1 + s->ns + s->nd;
    for (int a = 0; a < s->ns; a++)
      glp_set_row_bnds(lp, srow + a, GLP_UP, 0.0, s->u[a] / scale);
    for (int b = 0; b < s->nd; b++)
      glp_set_row_bnds(lp, drow + b, GLP_UP, 0.0, s->d[b] / scale);
    glp_set_row_bnds(lp, trow, GLP_FX, s->t_opt / scale, s->t_opt / scale);
    row = trow;
    for (int a = 0; a < s->ns; a++)
      for (int b = 0; b < s->nd; b++) {
        size_t ij = (size_t)s->sp[a] * n + s->dp[b];
        if (!p.usable[ij])
          continue;
        col++;
        cs[col - 1] = k;
        ci[col - 1] = s->sp[a];
        cj[col - 1] = s->dp[b];
        glp_set_col_bnds(lp, col, GLP_LO, 0.0, 0.0);
        const struct prov_route *r     = &t->routes[ij];
        const int               *links = prov_route_links(t, r);
        for (int h = 0; h < r->nlinks; h++) {
          int e = links[h];
          if (!link_row[e])
            continue;
          z++;
          ia[z] = link_row[e];
          ja[z] = col;
          ar[z] = p.mult[e] * scale / t->links[e].capacity_kbps;
        }
        int rows3[3] = {srow + a, drow + b, trow};
        for (int q = 0; q < 3; q++) {
          z++;
          ia[z] = rows3[q];
          ja[z] = col;
          ar[z] = 1.0;
        }
      }
  }
  glp_load_matrix(lp, (int)z, ia, ja, ar);
  int term = glp_term_out(GLP_OFF); /* library code must not print */
  glp_scale_prob(lp, GLP_SF_AUTO);
  glp_smcp smcp;
  glp_init_smcp(&smcp);
  smcp.msg_lev  = GLP_MSG_OFF;
  smcp.presolve = GLP_ON;
  /* with no rows there is nothing to constrain: alpha = 0 */
  int rc        = nrows ? glp_simplex(lp, &smcp) : 0;
  glp_term_out(term);
  if (nrows && (rc != 0 || glp_get_status(lp) != GLP_OPT)) {
    proto_fail(err, errlen,
               "GLPK failed on the exact LP (code %d, "
               "status %d)",
               rc, glp_get_status(lp));
    goto fail;
  }
  /* read t back; renormalize each swarm to T_opt against solver tolerances */
  double *sum = calloc((size_t)(nswarms ? nswarms : 1), sizeof *sum);
  if (!sum)
    goto oom;
  for (int c = 2; c <= (int)ncols; c++) {
    double x                                                    = fmax(0, glp_get_col_prim(lp, c)) * scale;
    res->swarms[cs[c - 1]].t[(size_t)ci[c - 1] * n + cj[c - 1]] = x;
    sum[cs[c - 1]] += x;
  }
  for (int k = 0; k < nswarms; k++) {
    if (sum[k] <= 0)
      continue;
    double f = p.swarms[k].t_opt / sum[k];
    for (size_t q = 0; q < (size_t)n * n; q++)
      res->swarms[k].t[q] *= f;
  }
  free(sum);
  for (int e = 0; e < L; e++)
    res->link_price[e] = link_row[e] ? fmax(0, -glp_get_row_dual(lp, link_row[e])) : 0;
  res->lower_bound = prov_opt_result_finish(t, swarms, &p, res);
  res->rounds      = 1;
  glp_delete_prob(lp);
  free(ia);
  free(ja);
  free(ar);
  free(cs);
  free(ci);
  free(cj);
  free(link_row);
  prov_opt_prep_free(&p);
  return 0;
oom:
  proto_fail(err, errlen, "out of memory");
fail:
  glp_delete_prob(lp);
  free(ia);
  free(ja);
  free(ar);
  free(cs);
  free(ci);
  free(cj);
  free(link_row);
  prov_opt_prep_free(&p);
  prov_opt_result_free(res);
  return -1;
oom_early:
  prov_opt_prep_free(&p);
  prov_opt_result_free(res);
  return proto_fail(err, errlen, "out of memory");
}
