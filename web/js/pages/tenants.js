// Tenants: every tenant of every reachable cluster.
import { get } from '../api.js';
import { h, errorBox, loading, fill } from '../util.js';
import { tenantTable } from './clusters.js';

export async function tenantsPage(ctx, main) {
  document.title = 'Tenants · tenback';
  const body = h('div', loading());
  const filter = h('input#tenant-filter', { type: 'search', placeholder: 'Filter by name or cluster', 'aria-label': 'Filter tenants' });
  main.append(h('div.page-head', h('h1', 'Tenants'), h('div.head-actions', filter)), body);
  let list;
  try {
    list = await get('/tenants');
  } catch (err) {
    fill(body, errorBox(err, 'Cannot list tenants'));
    return;
  }
  if (!ctx.alive()) return;
  const show = () => {
    const q = filter.value.trim().toLowerCase();
    const l = q ? list.filter((t) => t.name.toLowerCase().includes(q) || t.cluster.toLowerCase().includes(q)) : list;
    fill(body, list.length ? tenantTable(l) : h('p.empty', 'No tenant: register a cluster first (Clusters).'));
  };
  filter.addEventListener('input', show);
  show();
}
