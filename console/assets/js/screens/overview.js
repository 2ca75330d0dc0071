// Overview: what is defined, how deliveries went in the last hour and day,
// and the failing webhooks first, each a link into its screen.
import { h, replace, time } from '../dom.js';
import { api } from '../api.js';

export async function render(ctx) {
  replace(ctx.main, h('div', { class: 'page-head' }, h('h1', {}, 'Overview')), h('p', { class: 'list-status', role: 'status' }, 'Loading…'));
  const st = await api('GET', '/stats');
  const stat = (href, num, what, tone) => h('a', { href, class: 'stat' }, h('span', { class: 'num ' + (tone || '') }, String(num)), h('span', { class: 'what' }, what));
  const window = (label, c) => h('section', { class: 'card', 'aria-label': `Deliveries in the ${label}` },
    h('h2', {}, `Deliveries in the ${label}`),
    h('div', { class: 'cards three' },
      stat('webhooks', c.succeeded, 'succeeded', 'good'), stat('webhooks', c.failed, 'failed', c.failed ? 'bad' : ''), stat('webhooks', c.pending, 'pending', c.pending ? 'warn' : '')));
  const refresh = h('button', { type: 'button', class: 'btn', onclick: () => render(ctx) }, 'Refresh');
  replace(ctx.main,
    h('div', { class: 'page-head with-actions' }, h('div', {}, h('h1', {}, 'Overview'), h('p', { class: 'lede' }, 'As of ', time(st.generated_at))), refresh),
    h('div', { class: 'cards' },
      stat('webhooks', st.webhooks.total, `webhooks (${st.webhooks.enabled} enabled)`),
      stat('triggers', st.triggers.total, `triggers (${st.triggers.enabled} enabled)`),
      stat('flows', st.flows, 'flows'),
      stat('queues', st.queue_hooks, 'queue hooks')),
    h('div', { class: 'two' }, window('last hour', st.deliveries.last_hour), window('last day', st.deliveries.last_day)),
    h('h2', {}, 'Failing webhooks'),
    st.failing_webhooks.length === 0 ? h('p', { class: 'list-status empty' }, 'No webhook had a failed delivery in the last day.') :
      h('div', { class: 'table-wrap' }, h('table', { class: 'grid' }, h('caption', { class: 'sr-only' }, 'Failing webhooks'),
        h('thead', {}, h('tr', {}, ['Webhook', 'Failed (hour)', 'Failed (day)', 'Succeeded (day)', 'Last failure', ''].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, st.failing_webhooks.map((w) => h('tr', {},
          h('td', {}, h('a', { href: 'webhooks/' + encodeURIComponent(w.code) }, w.name), ' ', h('code', { class: 'muted' }, w.code), w.enabled ? '' : h('span', { class: 'muted' }, ' (disabled)')),
          h('td', {}, String(w.last_hour.failed)), h('td', {}, h('strong', { class: 'alert' }, String(w.last_day.failed))),
          h('td', {}, String(w.last_day.succeeded)), h('td', {}, time(w.last_failed_at)),
          h('td', {}, h('a', { href: 'webhooks/' + encodeURIComponent(w.code) }, 'Delivery log'))))))));
}
