// "Select Microsoft Entra Admins": search the tenant's users and enterprise applications
// (GET /api/v1/directory?type=admin-candidates), tick one or more, confirm with Select.
// Without a directory (a tenant pgwarden cannot search), an admin is added by name and
// object id instead.
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { api, ApiError } from '../api.js';
import type { AdminType } from '../changes.js';
import { PRINCIPAL_TYPE_LABELS, type DirectoryEntry } from '../types.js';
import { Icon } from './Icon.js';
import { Panel, SubmitCancel } from './Panel.js';

const SEARCH_DELAY_MS = 250;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface PickedAdmin {
  name: string;
  type: AdminType;
  objectId?: string;
  appId?: string;
}

type Search =
  { state: 'loading' } | { state: 'done'; items: DirectoryEntry[] } | { state: 'error'; message: string } | { state: 'no-directory'; message: string };

export function AdminPicker({
  existing,
  onSelect,
  onClose,
  returnFocus,
}: {
  existing: readonly string[];
  onSelect: (picked: PickedAdmin[]) => void;
  onClose: () => void;
  returnFocus: () => HTMLElement | null;
}) {
  const [query, setQuery] = useState('');
  const [search, setSearch] = useState<Search>({ state: 'loading' });
  const [selected, setSelected] = useState<Map<string, DirectoryEntry>>(new Map());
  const seq = useRef(0);
  const searchId = useId();
  const resultsId = useId();

  useEffect(() => {
    const mine = ++seq.current;
    const timer = setTimeout(
      () => {
        setSearch((s) => (s.state === 'done' ? s : { state: 'loading' }));
        api.directory(query.trim()).then(
          (r) => mine === seq.current && setSearch({ state: 'done', items: r.items }),
          (e: unknown) => {
            if (mine !== seq.current) return;
            const message = e instanceof Error ? e.message : String(e);
            setSearch(e instanceof ApiError && e.status === 404 ? { state: 'no-directory', message } : { state: 'error', message });
          },
        );
      },
      query ? SEARCH_DELAY_MS : 0,
    );
    return () => clearTimeout(timer);
  }, [query]);

  const toggle = (e: DirectoryEntry) => {
    const next = new Map(selected);
    if (next.has(e.objectId)) next.delete(e.objectId);
    else next.set(e.objectId, e);
    setSelected(next);
  };

  const confirm = () => {
    onSelect(
      [...selected.values()].map((e) => ({
        name: e.roleName,
        type: e.type === 'servicePrincipal' ? 'servicePrincipal' : 'user',
        objectId: e.objectId,
        ...(e.appId ? { appId: e.appId } : {}),
      })),
    );
  };

  if (search.state === 'no-directory') {
    return <ManualAdmin message={search.message} existing={existing} onSelect={onSelect} onClose={onClose} returnFocus={returnFocus} />;
  }

  const items = search.state === 'done' ? search.items : [];
  return (
    <Panel
      title="Select Microsoft Entra Admins"
      subtitle="Users and enterprise applications of the tenant. Admins get the privileges of citus."
      onClose={onClose}
      returnFocus={returnFocus}
      footer={
        <>
          <button type="button" class="button primary" disabled={selected.size === 0} onClick={confirm}>
            Select
          </button>
          <button type="button" class="button" onClick={onClose}>
            Cancel
          </button>
          <span class="footer-note" aria-live="polite">
            {selected.size === 0 ? 'Nothing selected' : `${selected.size} selected`}
          </span>
        </>
      }
    >
      <div class="field search-field">
        <label for={searchId}>Search by name, user principal name or application id</label>
        <div class="input-with-icon">
          <Icon name="search" />
          <input
            id={searchId}
            type="search"
            value={query}
            data-autofocus
            autocomplete="off"
            spellcheck={false}
            aria-controls={resultsId}
            onInput={(e) => setQuery((e.target as HTMLInputElement).value)}
          />
        </div>
      </div>
      <p class="visually-hidden" aria-live="polite">
        {search.state === 'done' ? `${items.length} ${items.length === 1 ? 'result' : 'results'}` : ''}
      </p>
      {search.state === 'error' ? (
        <p class="inline-error" role="alert">
          <Icon name="warning" /> {search.message}
        </p>
      ) : null}
      <fieldset class="results" id={resultsId} aria-busy={search.state === 'loading'}>
        <legend class="visually-hidden">Search results</legend>
        {search.state === 'loading' && items.length === 0 ? <p class="muted">Searching…</p> : null}
        {search.state === 'done' && items.length === 0 ? <p class="muted">No user or enterprise application matches “{query}”.</p> : null}
        {items.map((e) => {
          const already = existing.includes(e.roleName);
          const checked = already || selected.has(e.objectId);
          return (
            <label class={`result${checked ? ' checked' : ''}${already ? ' disabled' : ''}`} key={e.objectId}>
              <input type="checkbox" checked={checked} disabled={already} onChange={() => toggle(e)} />
              <span class="avatar" aria-hidden="true">
                <Icon name={e.type === 'user' ? 'user' : 'app'} />
              </span>
              <span class="result-text">
                <span class="result-name">{e.displayName}</span>
                <span class="result-detail">
                  {e.type === 'user' ? (e.userPrincipalName ?? e.roleName) : `Application id ${e.appId ?? '—'}`}
                  {' · '}
                  {PRINCIPAL_TYPE_LABELS[e.type]}
                  {already ? ' · Already an admin' : ''}
                </span>
              </span>
            </label>
          );
        })}
      </fieldset>
      {selected.size > 0 ? (
        <div class="picked">
          <h3>Selected</h3>
          <ul class="chips">
            {[...selected.values()].map((e) => (
              <li class="chip on" key={e.objectId}>
                {e.roleName}
                <button type="button" class="chip-remove" aria-label={`Unselect ${e.roleName}`} onClick={() => toggle(e)}>
                  <Icon name="close" />
                </button>
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </Panel>
  );
}

function ManualAdmin({
  message,
  existing,
  onSelect,
  onClose,
  returnFocus,
}: {
  message: string;
  existing: readonly string[];
  onSelect: (picked: PickedAdmin[]) => void;
  onClose: () => void;
  returnFocus: () => HTMLElement | null;
}) {
  const [name, setName] = useState('');
  const [type, setType] = useState<AdminType>('user');
  const [objectId, setObjectId] = useState('');
  const [appId, setAppId] = useState('');
  const [submitted, setSubmitted] = useState(false);
  const ids = { name: useId(), objectId: useId(), appId: useId(), type: useId() };
  const problems = {
    name:
      name.trim() === ''
        ? type === 'user'
          ? 'Enter the user principal name.'
          : 'Enter the display name.'
        : existing.includes(name.trim())
          ? `${name.trim()} is an admin already.`
          : undefined,
    objectId: GUID.test(objectId.trim()) ? undefined : 'Enter the object id, a GUID like 00000000-0000-0000-0000-000000000000.',
    appId: type === 'servicePrincipal' && appId.trim() !== '' && !GUID.test(appId.trim()) ? 'The application id is a GUID.' : undefined,
  };
  const submit = () => {
    setSubmitted(true);
    if (problems.name || problems.objectId || problems.appId) return;
    onSelect([
      {
        name: name.trim(),
        type,
        objectId: objectId.trim().toLowerCase(),
        ...(type === 'servicePrincipal' && appId.trim() ? { appId: appId.trim().toLowerCase() } : {}),
      },
    ]);
  };
  const err = (p: string | undefined) =>
    submitted && p ? (
      <p class="field-error">
        <Icon name="warning" /> {p}
      </p>
    ) : null;
  return (
    <Panel
      title="Select Microsoft Entra Admins"
      subtitle="pgwarden cannot search this tenant: add an admin by name and object id."
      onClose={onClose}
      returnFocus={returnFocus}
      onSubmit={submit}
      footer={<SubmitCancel submit="Select" onCancel={onClose} />}
    >
      <p class="notice info">
        <Icon name="info" /> {message}
      </p>
      <div class="field">
        <label for={ids.type}>Type</label>
        <select id={ids.type} value={type} onChange={(e) => setType((e.target as HTMLSelectElement).value as AdminType)}>
          <option value="user">User</option>
          <option value="servicePrincipal">Enterprise application</option>
        </select>
      </div>
      <div class="field">
        <label for={ids.name}>{type === 'user' ? 'User principal name' : 'Display name'}</label>
        <input
          id={ids.name}
          type="text"
          value={name}
          data-autofocus
          autocomplete="off"
          spellcheck={false}
          onInput={(e) => setName((e.target as HTMLInputElement).value)}
        />
        {err(problems.name)}
      </div>
      <div class="field">
        <label for={ids.objectId}>Object id</label>
        <input
          id={ids.objectId}
          type="text"
          value={objectId}
          autocomplete="off"
          spellcheck={false}
          onInput={(e) => setObjectId((e.target as HTMLInputElement).value)}
        />
        {err(problems.objectId)}
      </div>
      {type === 'servicePrincipal' ? (
        <div class="field">
          <label for={ids.appId}>Application (client) id, optional</label>
          <input
            id={ids.appId}
            type="text"
            value={appId}
            autocomplete="off"
            spellcheck={false}
            onInput={(e) => setAppId((e.target as HTMLInputElement).value)}
          />
          {err(problems.appId)}
        </div>
      ) : null}
    </Panel>
  );
}
