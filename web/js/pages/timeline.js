// The restorable window as a time line: continuous ranges (a backup set plus the
// archived WAL after it), gaps between them marked, the sets as ticks.
import { h, parseTime, fmtTime, timeEl } from '../util.js';

// Merge the window's ranges (each {set, start_time, end_time, end_reason}) into
// restorable segments, oldest first.
// A range without end_time ends at the end of the archive: it is drawn up to now.
export function segments(ranges) {
  const now = new Date();
  const rs = (ranges || [])
    .map((r) => {
      const a = parseTime(r.start_time);
      const b = r.end_time ? parseTime(r.end_time) : a && now > a ? now : a;
      return { ...r, a, b, open: !r.end_time };
    })
    .filter((r) => r.a && r.b && r.b >= r.a)
    .sort((x, y) => x.a - y.a);
  const out = [];
  for (const r of rs) {
    const last = out[out.length - 1];
    if (last && r.a <= last.b) {
      if (r.b > last.b) {
        last.b = r.b;
        last.end_reason = r.end_reason;
        last.open = r.open;
      }
      last.sets.push(r.set);
    } else {
      out.push({ a: r.a, b: r.b, end_reason: r.end_reason, open: r.open, sets: [r.set] });
    }
  }
  return out;
}

export function timeline(ranges, sets) {
  const segs = segments(ranges);
  if (!segs.length) {
    return h('div.timeline-empty', h('p.muted', 'Nothing to restore yet: the restorable window starts with the first completed backup set.'));
  }
  const t0 = segs[0].a.getTime();
  let t1 = segs[segs.length - 1].b.getTime();
  if (t1 <= t0) t1 = t0 + 1000;
  const span = t1 - t0;
  const pct = (t) => ((t - t0) / span) * 100;
  const track = h('div.tl-track', { 'aria-hidden': 'true' });
  const items = [];
  segs.forEach((s, i) => {
    const left = pct(s.a.getTime());
    const width = Math.max(0.6, pct(s.b.getTime()) - left);
    track.append(h('div.tl-seg', { style: { left: left + '%', width: width + '%' }, title: `Restorable: ${fmtTime(s.a)} – ${fmtTime(s.b)}` }));
    items.push(h('li', h('span.tl-key.tl-key-ok', { 'aria-hidden': 'true' }), 'Restorable from ', timeEl(s.a.toISOString()), ' to ',
      s.open ? ['now (the end of the archived WAL', s.end_reason ? h('span.muted', `: ${s.end_reason}`) : null, ')'] : timeEl(s.b.toISOString()),
      h('span.muted', ` (sets ${s.sets.join(', ')})`)));
    const next = segs[i + 1];
    if (next) {
      const gl = pct(s.b.getTime());
      const gw = Math.max(0.6, pct(next.a.getTime()) - gl);
      track.append(h('div.tl-gap', { style: { left: gl + '%', width: gw + '%' }, title: `Gap: ${fmtTime(s.b)} – ${fmtTime(next.a)}${s.end_reason ? ' (' + s.end_reason + ')' : ''}` }));
      items.push(h('li.tl-gap-item', h('span.tl-key.tl-key-gap', { 'aria-hidden': 'true' }), h('strong', 'Gap'), ' from ', timeEl(s.b.toISOString()), ' to ', timeEl(next.a.toISOString()),
        s.end_reason ? h('span.muted', ` — ${s.end_reason}`) : null, ': no point in it can be restored.'));
    }
  });
  for (const st of sets || []) {
    if (st.status !== 'completed') continue;
    const a = parseTime(st.stop_time || st.start_time);
    if (!a || a.getTime() < t0 || a.getTime() > t1) continue;
    track.append(h('div.tl-tick', { class: st.type === 'full' ? 'tl-tick-full' : 'tl-tick-incr', style: { left: pct(a.getTime()) + '%' }, title: `${st.type} set ${st.id}` }));
  }
  return h('figure.timeline', { 'aria-label': 'Restorable window' },
    track,
    h('div.tl-axis', h('span', fmtTime(new Date(t0))), h('span', fmtTime(new Date(t1)))),
    h('div.tl-legend.small', { 'aria-hidden': 'true' },
      h('span', h('span.tl-key.tl-key-ok'), 'restorable'), h('span', h('span.tl-key.tl-key-gap'), 'gap'),
      h('span', h('span.tl-key.tl-key-full'), 'full set'), h('span', h('span.tl-key.tl-key-incr'), 'incremental set')),
    h('figcaption', h('ul.tl-list.small', items)));
}

// Is time t (Date) inside a restorable segment?
export function inWindow(ranges, t) {
  return segments(ranges).some((s) => t >= s.a && t <= s.b);
}
