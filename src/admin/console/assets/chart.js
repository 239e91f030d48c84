// Line charts as inline SVG: one line per series over shared time points, a y axis with round
// ticks, a time axis, and a legend in HTML. No library, no inline style (the page's
// Content-Security-Policy allows none): colours are SVG presentation attributes.

import { el, svg } from './dom.js';

/** Okabe and Ito's colour-blind-safe palette (Color Universal Design, 2002), then greys. */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#D55E00', '#56B4E9', '#F0E442', '#666666'];

const M = { top: 12, right: 16, bottom: 26, left: 56 };

/**
 * A chart of `series` ([{label, values}], `values[i]` at `times[i]`) as a <figure>: the SVG and
 * its legend (`integers`: counts, so no tick between two whole numbers). `width` and `height` are its size in CSS pixels at which its text is 11 px; it
 * scales to its box's width. `yFormat` labels the y ticks, `xFormat` the time ticks; `empty` is shown instead
 * when there is nothing above zero.
 */
export function lineChart({
  times,
  series,
  yFormat = String,
  xFormat = String,
  label,
  empty = 'Nothing recorded in this window.',
  width: W = 1100,
  height: H = 260,
  integers = false,
}) {
  const max = Math.max(0, ...series.flatMap((s) => s.values));
  const figure = el('figure', { class: 'chart', 'aria-label': label });
  if (!times.length || !series.length || max === 0) {
    figure.append(el('p', { class: 'empty' }, empty));
    return figure;
  }
  const yStep = integers ? Math.max(1, niceStep(max / 4)) : niceStep(max / 4);
  const ticks = Math.ceil(max / yStep);
  const top = ticks * yStep;
  const x = (i) => M.left + (times.length === 1 ? 0 : (i / (times.length - 1)) * (W - M.left - M.right));
  const y = (v) => M.top + (1 - v / top) * (H - M.top - M.bottom);
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label, class: 'chart-svg' });
  for (let k = 0; k <= ticks; k++) {
    const value = k * yStep;
    chart.append(
      svg('line', { x1: M.left, x2: W - M.right, y1: y(value), y2: y(value), class: k === 0 ? 'axis' : 'grid' }),
      svg('text', { x: M.left - 8, y: y(value) + 4, 'text-anchor': 'end', class: 'tick' }, yFormat(value)),
    );
  }
  const at = times.map((t) => new Date(t).getTime());
  const xStep = tickStep(at[at.length - 1] - at[0]);
  at.forEach((t, i) => {
    if (t % xStep !== 0) return;
    chart.append(svg('text', { x: x(i), y: H - 8, 'text-anchor': i === 0 ? 'start' : 'middle', class: 'tick' }, xFormat(times[i])));
  });
  series.forEach((s, n) => {
    const d = s.values.map((v, i) => `${i === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    const total = s.values.reduce((a, b) => a + b, 0);
    chart.append(
      svg(
        'path',
        { d, fill: 'none', stroke: PALETTE[n % PALETTE.length], 'stroke-width': 2, 'stroke-linejoin': 'round', class: 'line' },
        svg('title', {}, `${s.label}: ${yFormat(total)} in all`),
      ),
    );
  });
  const legend = el(
    'ul',
    { class: 'legend' },
    series.map((s, n) =>
      el(
        'li',
        {},
        svg('svg', { viewBox: '0 0 10 10', class: 'swatch' }, svg('rect', { width: 10, height: 10, fill: PALETTE[n % PALETTE.length] })),
        s.label,
      ),
    ),
  );
  figure.append(chart, legend);
  return figure;
}

const MINUTE = 60_000;
const TICK_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440].map((m) => m * MINUTE);

/** The shortest round step (a minute to a day) that puts at most 8 time ticks on a span of `ms`. */
function tickStep(ms) {
  return TICK_STEPS.find((step) => ms / step <= 8) ?? TICK_STEPS[TICK_STEPS.length - 1];
}

/** The smallest of 1, 2, 2.5 or 5 times a power of ten at or above `value`: a step that makes round ticks (Heckbert, "Nice numbers for graph labels", Graphics Gems, 1990). */
function niceStep(value) {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5]) if (step * power >= value) return step * power;
  return 10 * power;
}
