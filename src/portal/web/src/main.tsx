// The portal's entry: ask who is signed in, then show the sign-in or the page.
import { render } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api.js';
import { AuthenticationPage } from './components/AuthenticationPage.js';
import { Icon } from './components/Icon.js';
import { SignIn } from './components/SignIn.js';
import type { SessionInfo } from './types.js';
import './styles.css';

type State = { state: 'loading' } | { state: 'error'; message: string } | { state: 'ready'; session: SessionInfo; notice?: string };

function App() {
  const [s, setS] = useState<State>({ state: 'loading' });
  const [announcement, setAnnouncement] = useState('');
  // When a session ends, every call in flight answers 401. Only the first asks the server
  // why: the server tells the reason once (it ends the session as it answers), so a later
  // ask would replace the reason with a generic one.
  const ending = useRef(false);

  const refresh = useCallback(async (notice?: string) => {
    try {
      const session = await api.session();
      if (session.signedIn) {
        api.setCsrf(session.csrfHeader, session.csrf);
        ending.current = false;
      } else api.clearCsrf();
      // The server's reason (a session ended, a refused sign-in) says more than ours.
      const shown = (session.signedIn ? undefined : session.error) ?? notice;
      setS({ state: 'ready', session, ...(shown ? { notice: shown } : {}) });
    } catch (e) {
      setS({ state: 'error', message: e instanceof Error ? e.message : String(e) });
    }
  }, []);

  useEffect(() => {
    void refresh();
    return api.onSignedOut(() => {
      if (ending.current) return;
      ending.current = true;
      void refresh('Your session ended. Please sign in again.');
    });
  }, [refresh]);

  // Screen readers hear what changed without focus moving.
  const announce = useCallback((text: string) => {
    setAnnouncement('');
    setTimeout(() => setAnnouncement(text), 50);
  }, []);

  const signOut = async () => {
    try {
      await api.signOut();
    } finally {
      await refresh('You signed out.');
    }
  };

  let body;
  if (s.state === 'loading') body = <p class="muted content">Loading…</p>;
  else if (s.state === 'error')
    body = (
      <main id="main" class="content">
        <p class="inline-error" role="alert">
          <Icon name="warning" /> {s.message}
        </p>
        <button type="button" class="button" onClick={() => void refresh()}>
          Try again
        </button>
      </main>
    );
  else if (!s.session.signedIn) body = <SignIn can={s.session.signIn} notice={s.notice} onSignedIn={() => void refresh()} />;
  else body = <AuthenticationPage me={s.session.user} announce={announce} />;

  const user = s.state === 'ready' && s.session.signedIn ? s.session.user : undefined;
  return (
    <div class="shell">
      <a class="skip-link" href="#main">
        Skip to the page
      </a>
      <header class="topbar">
        <span class="brand">
          <Icon name="shield" /> pgwarden
        </span>
        <nav class="crumbs" aria-label="Breadcrumb">
          <span>Cluster</span>
          <span aria-hidden="true">›</span>
          <span aria-current="page">Authentication</span>
        </nav>
        {user ? (
          <div class="user">
            <span class="user-name" title={user.name}>
              <Icon name={user.kind === 'citus' ? 'key' : user.type === 'servicePrincipal' ? 'app' : 'user'} />
              <span class="user-text">{user.name}</span>
            </span>
            <button type="button" class="topbar-button" onClick={() => void signOut()}>
              <Icon name="signout" /> Sign out
            </button>
          </div>
        ) : null}
      </header>
      {body}
      <div class="visually-hidden" role="status" aria-live="polite">
        {announcement}
      </div>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
