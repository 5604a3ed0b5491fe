// The cluster's "Authentication" page: load the saved state, stage changes in the
// sections, apply them together on Save, show what happened on each node.
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiError } from '../api.js';
import {
  adminRows,
  applyOrder,
  describe,
  effectiveMethod,
  effectiveSessionExpiry,
  notices,
  roleRows,
  stageAddAdmins,
  stageAddRole,
  stageDeleteRole,
  stageMethod,
  stageSessionExpiry,
  stageRemoveAdmin,
  stageResetPassword,
  takenRoleNames,
  unstage,
  type Change,
  type ServerState,
} from '../changes.js';
import type { ClusterState, NodeOutcome } from '../types.js';
import { AdminPicker } from './AdminPicker.js';
import { PendingSummary, SaveResults, Toolbar, type ChangeOutcome } from './Changes.js';
import { Icon } from './Icon.js';
import { NodesSection } from './NodesSection.js';
import { AddRolePanel, ResetPasswordPanel } from './RolePanels.js';
import { EntraSection, MethodsSection, RolesSection, SessionExpirySection } from './Sections.js';

/** How often the nodes are polled while the page is visible. */
const NODES_POLL_MS = 5_000;

type OpenPanel = { kind: 'add-role' } | { kind: 'reset'; role: string; button: HTMLButtonElement } | { kind: 'pick-admins' } | undefined;

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

async function applyChange(c: Change): Promise<NodeOutcome[]> {
  switch (c.kind) {
    case 'method':
      return (await api.setAuthentication(c.to)).nodes;
    case 'session-expiry':
      await api.setSessionExpiry(c.to);
      return [];
    case 'add-admin':
      return (await api.addAdmin({ name: c.name, type: c.type, ...(c.objectId ? { objectId: c.objectId } : {}), ...(c.appId ? { appId: c.appId } : {}) }))
        .nodes;
    case 'remove-admin':
      return (await api.removeAdmin(c.name)).nodes;
    case 'add-role':
      return (await api.addRole(c.name, c.password)).nodes;
    case 'reset-password':
      return (await api.resetPassword(c.name, c.password)).nodes;
    case 'delete-role':
      return (await api.deleteRole(c.name)).nodes;
  }
}

export function AuthenticationPage({ me, announce }: { me: { kind: 'citus' | 'entra'; name: string }; announce: (text: string) => void }) {
  const [server, setServer] = useState<ServerState | undefined>();
  const [loadError, setLoadError] = useState<string | undefined>();
  const [changes, setChanges] = useState<Change[]>([]);
  const [panel, setPanel] = useState<OpenPanel>();
  const [saving, setSaving] = useState(false);
  const [outcomes, setOutcomes] = useState<ChangeOutcome[] | undefined>();
  const [cluster, setCluster] = useState<ClusterState | undefined>();
  const [clusterError, setClusterError] = useState<string | undefined>();
  const [clusterAt, setClusterAt] = useState<Date | undefined>();
  const addAdminButton = useRef<HTMLButtonElement>(null);
  const addRoleButton = useRef<HTMLButtonElement>(null);
  const resultsHeading = useRef<HTMLHeadingElement>(null);

  const load = useCallback(async () => {
    try {
      const [auth, admins, roles] = await Promise.all([api.authentication(), api.admins(), api.roles()]);
      setServer({ method: auth.methods, sessionExpiry: auth.sessionExpiry, admins: admins.items, roles: roles.items });
      setLoadError(undefined);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) setLoadError(message(e));
    }
  }, []);

  const pollCluster = useCallback(async () => {
    try {
      const c = await api.cluster();
      setCluster(c);
      setClusterError(undefined);
      setClusterAt(new Date());
      // Another admin may have changed the methods meanwhile: show the saved value.
      setServer((s) => (s && s.method !== c.authentication ? { ...s, method: c.authentication } : s));
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) setClusterError(message(e));
    }
  }, []);

  useEffect(() => {
    void load();
    void pollCluster();
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') void pollCluster();
    }, NODES_POLL_MS);
    const onVisible = () => document.visibilityState === 'visible' && void pollCluster();
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      clearInterval(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [load, pollCluster]);

  // Leaving with unsaved changes asks first.
  useEffect(() => {
    if (changes.length === 0) return;
    const onLeave = (e: BeforeUnloadEvent) => e.preventDefault();
    window.addEventListener('beforeunload', onLeave);
    return () => window.removeEventListener('beforeunload', onLeave);
  }, [changes.length]);

  const stage = (next: Change[], what: string) => {
    setChanges(next);
    setOutcomes(undefined);
    announce(what);
  };

  const save = async () => {
    if (!server) return;
    setSaving(true);
    setOutcomes(undefined);
    const done: ChangeOutcome[] = [];
    const failed = new Set<number>();
    for (const c of applyOrder(changes)) {
      try {
        done.push({ id: c.id, title: describe(c), ok: true, nodes: await applyChange(c) });
      } catch (e) {
        failed.add(c.id);
        done.push({ id: c.id, title: describe(c), ok: false, error: message(e) });
        if (e instanceof ApiError && e.status === 401) break;
      }
    }
    // Applied changes are forgotten with their passwords; failed ones stay staged.
    setChanges((cs) => cs.filter((c) => failed.has(c.id)));
    setOutcomes(done);
    setSaving(false);
    announce(failed.size === 0 ? `Saved ${done.length} ${done.length === 1 ? 'change' : 'changes'}.` : `${failed.size} of ${done.length} changes failed.`);
    await Promise.all([load(), pollCluster()]);
    setTimeout(() => resultsHeading.current?.focus(), 0);
  };

  const view = useMemo(() => {
    if (!server) return undefined;
    return {
      method: effectiveMethod(changes, server),
      sessionExpiry: effectiveSessionExpiry(changes, server),
      admins: adminRows(changes, server),
      roles: roleRows(changes, server),
      notices: notices(changes, server, me),
    };
  }, [server, changes, me]);

  if (loadError && !server) {
    return (
      <main id="main" class="content">
        <p class="inline-error" role="alert">
          <Icon name="warning" /> Could not load the authentication settings: {loadError}
        </p>
        <button type="button" class="button" onClick={() => void load()}>
          Try again
        </button>
      </main>
    );
  }
  if (!server || !view) {
    return (
      <main id="main" class="content" aria-busy="true">
        <p class="muted">Loading…</p>
      </main>
    );
  }

  const blocked = view.notices.some((n) => n.level === 'error');
  return (
    <>
      <Toolbar
        count={changes.length}
        saving={saving}
        blocked={blocked}
        onSave={() => void save()}
        onDiscard={() => stage([], 'Discarded the unsaved changes.')}
        onRefresh={() => {
          void load();
          void pollCluster();
        }}
      />
      <main id="main" class="content">
        <h1 class="page-title">
          <Icon name="shield" /> Authentication
        </h1>
        {loadError ? (
          <p class="inline-error" role="alert">
            <Icon name="warning" /> Could not refresh: {loadError}
          </p>
        ) : null}
        {outcomes ? <SaveResults outcomes={outcomes} headingRef={resultsHeading} onDismiss={() => setOutcomes(undefined)} /> : null}
        <PendingSummary changes={changes} notices={view.notices} onUndo={(id) => stage(unstage(changes, id), 'Undone.')} />
        <MethodsSection
          value={view.method}
          saved={server.method}
          onChange={(m) => stage(stageMethod(changes, server, m), 'Authentication methods changed; not saved yet.')}
        />
        <SessionExpirySection
          value={view.sessionExpiry}
          saved={server.sessionExpiry ?? 'never'}
          onChange={(v) => stage(stageSessionExpiry(changes, server, v), 'Session expiry changed; not saved yet.')}
        />
        <EntraSection
          rows={view.admins}
          method={view.method}
          addButton={addAdminButton}
          onAdd={() => setPanel({ kind: 'pick-admins' })}
          onRemove={(name) => stage(stageRemoveAdmin(changes, server, name), `${name} will be removed when you save.`)}
          onUndo={(id) => stage(unstage(changes, id), 'Undone.')}
        />
        <RolesSection
          rows={view.roles}
          method={view.method}
          addButton={addRoleButton}
          onAdd={() => setPanel({ kind: 'add-role' })}
          onReset={(role, button) => setPanel({ kind: 'reset', role, button })}
          onDelete={(name) => {
            stage(stageDeleteRole(changes, name), `${name} will be deleted when you save.`);
            // The row's menu is gone with the deletion: focus its Undo instead.
            setTimeout(() => document.querySelector<HTMLElement>(`[data-undo-role="${CSS.escape(name)}"]`)?.focus(), 0);
          }}
          onUndo={(id) => stage(unstage(changes, id), 'Undone.')}
        />
        <NodesSection cluster={cluster} error={clusterError} updatedAt={clusterAt} onRefresh={() => void pollCluster()} />
      </main>
      {panel?.kind === 'add-role' ? (
        <AddRolePanel
          taken={takenRoleNames(changes, server)}
          returnFocus={() => addRoleButton.current}
          onClose={() => setPanel(undefined)}
          onStage={(name, password) => {
            setPanel(undefined);
            stage(stageAddRole(changes, name, password), `${name} will be added when you save.`);
          }}
        />
      ) : null}
      {panel?.kind === 'reset' ? (
        <ResetPasswordPanel
          role={panel.role}
          returnFocus={() => (panel.button.isConnected ? panel.button : addRoleButton.current)}
          onClose={() => setPanel(undefined)}
          onStage={(password) => {
            setPanel(undefined);
            stage(stageResetPassword(changes, panel.role, password), `The password of ${panel.role} will be reset when you save.`);
          }}
        />
      ) : null}
      {panel?.kind === 'pick-admins' ? (
        <AdminPicker
          existing={view.admins.filter((a) => a.status !== 'removed').map((a) => a.name)}
          returnFocus={() => addAdminButton.current}
          onClose={() => setPanel(undefined)}
          onSelect={(picked) => {
            setPanel(undefined);
            stage(stageAddAdmins(changes, server, picked), `${picked.length} ${picked.length === 1 ? 'admin' : 'admins'} will be added when you save.`);
          }}
        />
      ) : null}
    </>
  );
}
