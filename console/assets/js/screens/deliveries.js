// A delivery log (the seeds' "event logs"): SUCCESS/FAILED, executed date
// newest first, status code and attempts, filters by result and date, and a
// panel with every attempt's request and response.
import { h, replace, openDialog, time, copyButton, statusBadge, pre, pretty, announce, field, select } from '../dom.js';
import { api } from '../api.js';
import { registry } from '../list.js';

/** deliveryLog lists the deliveries at path (a webhook's, a trigger's);
 * write shows Retry (POST /v1/deliveries/{id}/retry needs webhooks:write). */
export function deliveryLog(ctx, { path, write, empty }) {
  const filter = { status: '', since: '', until: '' };
  const result = select([['', 'All results'], ['succeeded', 'SUCCESS'], ['failed', 'FAILED'], ['pending', 'PENDING'], ['canceled', 'CANCELED']], '', { id: 'dl-result' });
  const since = h('input', { type: 'datetime-local', id: 'dl-since', step: '1' });
  const until = h('input', { type: 'datetime-local', id: 'dl-until', step: '1' });
  const apply = () => {
    filter.status = result.value;
    filter.since = since.value ? new Date(since.value).toISOString().replace(/\.\d+Z$/, 'Z') : '';
    filter.until = until.value ? new Date(until.value).toISOString().replace(/\.\d+Z$/, 'Z') : '';
    list.state.page = 1;
    list.reload();
  };
  for (const c of [result, since, until]) c.addEventListener('change', apply);
  const list = registry({
    caption: 'Deliveries', noun: 'deliveries', one: 'delivery', selectable: false,
    empty: empty || 'No deliveries match. Publish an event of a subscribed type, or use “Send test”.',
    key: (d) => d.id, name: (d) => d.id,
    fetch: (q) => api('GET', path, null, { ...q, status: filter.status, since: filter.since, until: filter.until }),
    filters: [
      h('span', { class: 'inline' }, h('label', { for: 'dl-result' }, 'Result'), result),
      h('span', { class: 'inline' }, h('label', { for: 'dl-since' }, 'From'), since),
      h('span', { class: 'inline' }, h('label', { for: 'dl-until' }, 'To'), until),
    ],
    columns: [
      { label: 'Result', cell: (d) => statusBadge(d.status) },
      { label: 'Executed', sort: 'created_at', cell: (d) => time(d.completed_at || d.updated_at) },
      { label: 'Event type', cell: (d) => d.event_type },
      { label: 'Event', cell: (d) => h('a', { href: 'events/' + encodeURIComponent(d.event_id) }, d.event_id) },
      { label: 'Status code', cell: (d) => d.last_status_code == null ? h('span', { class: 'muted' }, '—') : String(d.last_status_code) },
      { label: 'Attempts', cell: (d) => String(d.attempt_count) },
      { label: 'Details', cell: (d) => h('button', { type: 'button', class: 'btn small', 'aria-label': `Details of delivery ${d.id}`,
        onclick: () => openDelivery(d.id, { write, changed: () => list.reload() }) }, 'Details') },
    ],
  });
  // A click anywhere on a row opens its panel too.
  list.el.addEventListener('click', (e) => {
    const tr = e.target.closest('tbody tr');
    if (!tr || e.target.closest('a, button, input, select')) return;
    openDelivery(tr.dataset.key, { write, changed: () => list.reload() });
  });
  return list;
}

/** requestText is an attempt's request as an HTTP message, for copying. */
function requestText(a) {
  const r = a.request;
  return `${r.method} ${r.url}\n` + Object.entries(r.headers || {}).map(([k, v]) => `${k}: ${v}`).join('\n') + '\n\n' + (r.body || '');
}

function responseText(a) {
  if (a.response_status == null) return a.error || '(no response)';
  return `HTTP ${a.response_status}\n` + Object.entries(a.response_headers || {}).map(([k, v]) => `${k}: ${v}`).join('\n') +
    '\n\n' + (a.response_body || '') + (a.truncated ? '\n[truncated at 10 KB]' : '');
}

function headersText(hs) {
  const e = Object.entries(hs || {});
  return e.length ? e.map(([k, v]) => `${k}: ${v}`).join('\n') : '(none)';
}

/** senderFact names what made a delivery: a webhook, or a trigger's
 * webhook action (delivered under trigger.<id>; queue_hook.<id> and
 * flow.<id> for runs of a queue hook or of a flow by itself). */
function senderFact(d, close) {
  const [kind, id] = d.webhook_code.includes('.') ? d.webhook_code.split(/\.(.*)/s) : ['', ''];
  const link = (label, href) => h('a', { href, onclick: close }, label);
  switch (kind) {
    case 'trigger': return [h('dt', {}, 'Trigger'), h('dd', {}, link(id, 'triggers/' + encodeURIComponent(id)), ' (its webhook action)')];
    case 'flow': return [h('dt', {}, 'Flow'), h('dd', {}, link(id, 'flows/' + encodeURIComponent(id)), ' (a webhook step of a run of the flow itself)')];
    case 'queue_hook': return [h('dt', {}, 'Queue hook'), h('dd', {}, h('code', {}, id), ' (a webhook step of its flow)')];
    default: return [h('dt', {}, 'Webhook'), h('dd', {}, link(d.webhook_code, 'webhooks/' + encodeURIComponent(d.webhook_code)))];
  }
}

/** attemptSection shows one try: its request and its response, each with
 * Copy (a delivery's attempts, an http.request step's tries). prefix names
 * the try when several lists share a panel ("Step 2 attempt 1"). */
export function attemptSection(a, prefix = 'Attempt') {
  const n = `${prefix} ${a.attempt}`;
  const of = n.charAt(0).toLowerCase() + n.slice(1);
  return h('section', { class: 'attempt', 'aria-label': n },
    h('h4', {}, `${n} `, statusBadge(a.result === 'SUCCESS' ? 'succeeded' : 'failed'),
      ' ', a.response_status != null ? `HTTP ${a.response_status}` : 'no response', ` · ${a.duration_ms} ms · `, time(a.executed_at)),
    a.error ? h('p', { class: 'alert' }, a.error) : null,
    h('div', { class: 'exchange' },
      h('div', { class: 'half' },
        h('div', { class: 'label-row' }, h('h5', {}, 'Request'), copyButton(`Copy request of ${of}`, () => requestText(a))),
        h('p', { class: 'mono' }, `${a.request.method} ${a.request.url}`),
        pre(headersText(a.request.headers), `Request headers of ${of}`),
        a.request.body_encoding === 'base64' ? h('p', { class: 'hint' }, 'The body was not text; shown as base64.') : null,
        pre(pretty(a.request.body || ''), `Request body of ${of}`)),
      h('div', { class: 'half' },
        h('div', { class: 'label-row' }, h('h5', {}, 'Response'), copyButton(`Copy response of ${of}`, () => responseText(a))),
        h('p', { class: 'mono' }, a.response_status != null ? `HTTP ${a.response_status}` : '—', a.truncated ? h('span', { class: 'badge truncated' }, 'truncated at 10 KB') : null),
        pre(headersText(a.response_headers), `Response headers of ${of}`),
        a.response_body_encoding === 'base64' ? h('p', { class: 'hint' }, 'The body was not text (NUL bytes or invalid UTF-8); shown as base64.') : null,
        a.escaped ? h('p', { class: 'hint' }, 'Bytes that are not text in headers, the URL or the error are written as \\xNN.') : null,
        pre(pretty(a.response_body || ''), `Response body of ${of}`))));
}

/** openDelivery shows one delivery's attempts in a panel. */
export async function openDelivery(id, { write, changed } = {}) {
  let d;
  try { d = await api('GET', '/deliveries/' + encodeURIComponent(id)); } catch (e) { announce(e.message, 'error'); return; }
  const body = h('div', { class: 'delivery' });
  const retry = h('button', { type: 'button', class: 'btn primary' }, 'Retry');
  const dlg = openDialog({ title: `Delivery ${d.id}`, body, wide: true });
  dlg.classList.add('panel');
  function fill(d) {
    const attempts = (d.attempts || []).slice().sort((a, b) => b.attempt - a.attempt);
    replace(body,
      h('dl', { class: 'facts' },
        h('dt', {}, 'Result'), h('dd', {}, statusBadge(d.status)),
        senderFact(d, () => dlg.close_()),
        h('dt', {}, 'Event'), h('dd', {}, h('a', { href: 'events/' + encodeURIComponent(d.event_id), onclick: () => dlg.close_() }, d.event_id), ` (${d.event_type})`),
        h('dt', {}, 'Attempts'), h('dd', {}, String(d.attempt_count)),
        d.next_attempt_at ? [h('dt', {}, 'Next attempt'), h('dd', {}, time(d.next_attempt_at))] : null,
        d.last_error ? [h('dt', {}, 'Last error'), h('dd', {}, d.last_error)] : null,
        h('dt', {}, 'Workflow'), h('dd', {}, h('code', {}, d.workflow_id || '—'), ' ',
          d.temporal_ui_url ? h('a', { href: d.temporal_ui_url, target: '_blank', rel: 'noopener noreferrer', class: 'external' }, 'Open in Temporal UI') : null)),
      write && (d.status === 'failed' || d.status === 'canceled') ? h('div', { class: 'row' }, retry,
        h('span', { class: 'muted' }, 'Sends it again now, with a fresh retry window.')) : null,
      h('h3', {}, `Attempts (${attempts.length})`),
      attempts.length === 0 ? h('p', { class: 'empty' }, 'No attempt yet.') : null,
      attempts.map((a) => attemptSection(a)));
  }
  retry.addEventListener('click', async () => {
    retry.disabled = true;
    try {
      const r = await api('POST', '/deliveries/' + encodeURIComponent(d.id) + '/retry');
      announce('Retry started');
      d = r;
      fill(d);
      if (changed) changed();
      // Show the new attempt when it lands.
      for (let i = 0; i < 20 && dlg.isConnected; i++) {
        await new Promise((res) => setTimeout(res, 500));
        const fresh = await api('GET', '/deliveries/' + encodeURIComponent(d.id));
        if (fresh.status !== 'pending' || fresh.attempt_count !== d.attempt_count) { d = fresh; fill(d); if (changed) changed(); if (fresh.status !== 'pending') break; }
      }
    } catch (e) { announce('Retry failed: ' + e.message, 'error'); } finally { retry.disabled = false; }
  });
  fill(d);
}

/** openRun shows a run's step log (GET /v1/runs/{id}): each step's
 * outcome and output, the tries of its HTTP requests with request and
 * response, and the deliveries of its webhook actions, which open in
 * their own panel (write allows their Retry). */
export async function openRun(id, { write } = {}) {
  let r;
  try { r = await api('GET', '/runs/' + encodeURIComponent(id)); } catch (e) { announce(e.message, 'error'); return; }
  const outputs = r.outputs || {};
  const owner = r.trigger_id ? ['Trigger', h('a', { href: 'triggers/' + encodeURIComponent(r.trigger_id), onclick: () => dlg.close_() }, r.trigger_id)]
    : r.queue_hook_id ? ['Queue hook', h('code', {}, r.queue_hook_id)]
      : r.flow_id ? ['Flow', h('a', { href: 'flows/' + encodeURIComponent(r.flow_id), onclick: () => dlg.close_() }, r.flow_id)] : null;
  const body = h('div', { class: 'delivery' },
    h('dl', { class: 'facts' },
      h('dt', {}, 'Status'), h('dd', {}, statusBadge(r.status)),
      owner ? [h('dt', {}, owner[0]), h('dd', {}, owner[1])] : null,
      r.event_id ? [h('dt', {}, 'Event'), h('dd', {}, h('a', { href: 'events/' + encodeURIComponent(r.event_id), onclick: () => dlg.close_() }, r.event_id))] : null,
      h('dt', {}, 'Started'), h('dd', {}, time(r.started_at)),
      h('dt', {}, 'Ended'), h('dd', {}, time(r.finished_at)),
      r.error ? [h('dt', {}, 'Error'), h('dd', { class: 'alert' }, r.failed_step ? `${r.failed_step}: ${r.error}` : r.error)] : null,
      h('dt', {}, 'Workflow'), h('dd', {}, h('code', {}, r.workflow_id || '—'), ' ',
        r.temporal_ui_url ? h('a', { href: r.temporal_ui_url, target: '_blank', rel: 'noopener noreferrer', class: 'external' }, 'Open in Temporal UI') : null)),
    h('h3', {}, `Steps (${r.steps.length})`),
    r.steps.length === 0 ? h('p', { class: 'empty' }, 'No step has run yet.') : null,
    r.steps.map((st, i) => h('section', { class: 'step', 'aria-label': `Step ${i + 1}: ${st.name}` },
      h('div', { class: 'step-head' }, h('strong', { class: 'grow' }, `Step ${i + 1}: ${st.name} `, h('code', {}, st.action)), statusBadge(st.status)),
      st.error ? h('p', { class: 'alert' }, st.error) : null,
      st.name in outputs ? h('pre', { class: 'code', 'aria-label': `Output of ${st.name}` }, JSON.stringify(outputs[st.name], null, 2)) : null,
      (st.deliveries || []).map((d) => h('p', { class: 'row' }, 'Delivery ', statusBadge(d.status), ' ',
        d.last_status_code == null ? '' : `HTTP ${d.last_status_code} · `, `${d.attempt_count} attempt${d.attempt_count === 1 ? '' : 's'} `,
        h('button', { type: 'button', class: 'btn small', 'aria-label': `Details of delivery ${d.id}`, onclick: () => openDelivery(d.id, { write }) }, 'Details'))),
      (st.attempts || []).map((a) => attemptSection(a, `Step ${i + 1} attempt`)))));
  const dlg = openDialog({ title: `Run ${r.id}`, body, wide: true });
  dlg.classList.add('panel');
}
