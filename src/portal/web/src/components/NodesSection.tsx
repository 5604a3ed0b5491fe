// "Nodes": the coordinator and the workers and their state, polled while the page is
// visible. Fields this page does not know yet (a reconciler's sync state, say) are shown
// as they come, as name and value.
import type { ClusterNode, ClusterState, NodeSync } from '../types.js';
import { Icon } from './Icon.js';

const KNOWN = new Set(['name', 'kind', 'state', 'error', 'sync']);

/** "lastSync" -> "Last sync", "sync_state" -> "Sync state". */
export function humanize(key: string): string {
  const words = key
    .replace(/[_-]+/g, ' ')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .trim()
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function show(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return value.map(show).join(', ') || '—';
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

function extras(node: ClusterNode): Array<[string, string]> {
  return Object.entries(node)
    .filter(([k]) => !KNOWN.has(k))
    .map(([k, v]) => [humanize(k), show(v)]);
}

function StateBadge({ state }: { state: string }) {
  const cls = state === 'up' ? 'ok' : state === 'down' ? 'bad' : 'unknown';
  const text = state === 'up' ? 'Up' : state === 'down' ? 'Down' : humanize(state);
  return (
    <span class={`state ${cls}`}>
      <span class="state-dot" aria-hidden="true" />
      {text}
    </span>
  );
}

/** How a worker compares with the coordinator, in words; the coordinator is the source. */
function SyncCell({ node }: { node: ClusterNode }) {
  if (node.kind === 'coordinator') return <span class="muted">Source of roles and grants</span>;
  const sync: NodeSync | undefined = node.sync;
  if (!sync) return <span class="muted">—</span>;
  const when = (iso: string | undefined) => (iso ? new Date(iso).toLocaleTimeString() : '');
  const text =
    sync.state === 'in-sync'
      ? 'In sync'
      : sync.state === 'pending'
        ? `Catching up${sync.pending ? `: ${sync.pending}` : ''}`
        : sync.state === 'unreachable'
          ? `Unreachable${sync.unreachableSince ? ` since ${when(sync.unreachableSince)}` : ''}`
          : humanize(sync.state);
  const notes = [...(sync.drift ?? []).map((d) => `${humanize(d.kind)}: ${d.subject}`), ...(sync.errors ?? [])];
  return (
    <span class="sync">
      <span class={`state ${sync.state === 'in-sync' ? 'ok' : sync.state === 'unreachable' ? 'bad' : 'unknown'}`}>
        <span class="state-dot" aria-hidden="true" />
        {text}
      </span>
      {notes.length > 0 ? (
        <ul class="sync-notes">
          {notes.map((n) => (
            <li key={n}>{n}</li>
          ))}
        </ul>
      ) : null}
    </span>
  );
}

export function NodesSection({
  cluster,
  error,
  updatedAt,
  onRefresh,
}: {
  cluster: ClusterState | undefined;
  error: string | undefined;
  updatedAt: Date | undefined;
  onRefresh: () => void;
}) {
  const nodes = cluster?.nodes ?? [];
  const up = nodes.filter((n) => n.state === 'up').length;
  return (
    <section class="card" aria-labelledby="nodes-heading">
      <div class="card-header">
        <h2 id="nodes-heading">Nodes</h2>
        <span class="muted small" aria-live="polite">
          {cluster ? `${up} of ${nodes.length} up` : ''}
          {updatedAt ? ` · updated ${updatedAt.toLocaleTimeString()}` : ''}
        </span>
        <button type="button" class="icon-button" aria-label="Refresh nodes" onClick={onRefresh}>
          <Icon name="refresh" />
        </button>
      </div>
      {error ? (
        <p class="inline-error" role="alert">
          <Icon name="warning" /> Could not refresh the nodes: {error}
        </p>
      ) : null}
      {!cluster && !error ? <p class="muted">Loading…</p> : null}
      {nodes.length > 0 ? (
        <table class="table">
          <caption class="visually-hidden">Nodes of the cluster</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Role</th>
              <th scope="col">State</th>
              <th scope="col">Roles and grants</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {nodes.map((n) => {
              const more = extras(n);
              return (
                <tr key={n.name}>
                  <th scope="row" data-label="Name">
                    <span class="cell-name">
                      <Icon name="server" />
                      <span class="name-text">{n.name}</span>
                    </span>
                  </th>
                  <td data-label="Role">{n.kind === 'coordinator' ? 'Coordinator' : n.kind === 'worker' ? 'Worker' : humanize(String(n.kind))}</td>
                  <td data-label="State">
                    <StateBadge state={String(n.state)} />
                  </td>
                  <td data-label="Roles and grants">
                    <SyncCell node={n} />
                  </td>
                  <td data-label="Details">
                    {n.error ? <span class="node-error">Not answering</span> : null}
                    {more.length > 0 ? (
                      <dl class="extras">
                        {more.map(([k, v]) => (
                          <div key={k}>
                            <dt>{k}</dt>
                            <dd>{v}</dd>
                          </div>
                        ))}
                      </dl>
                    ) : !n.error ? (
                      <span class="muted">—</span>
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
