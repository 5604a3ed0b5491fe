// Sign-in: with the identity provider (a link that starts the authorization code flow on
// the server), or as citus with its password. The password is read from the input once,
// sent, and the input is emptied at once, whatever the answer.
import { useId, useRef, useState } from 'preact/hooks';
import { api } from '../api.js';
import { Icon } from './Icon.js';

export function SignIn({ can, notice, onSignedIn }: { can: { citus: boolean; entra: boolean }; notice: string | undefined; onSignedIn: () => void }) {
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const password = useRef<HTMLInputElement>(null);
  const pwId = useId();
  const errorId = useId();

  const submit = async (e: Event) => {
    e.preventDefault();
    const input = password.current!;
    const value = input.value;
    input.value = '';
    if (!value) {
      setError('Enter the password of citus.');
      input.focus();
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await api.signInCitus(value);
      onSignedIn();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      setBusy(false);
      input.focus();
    }
  };

  return (
    <main id="main" class="signin">
      <div class="signin-card">
        <div class="brand-mark" aria-hidden="true">
          <Icon name="shield" />
        </div>
        <h1>Sign in to pgwarden</h1>
        <p class="muted">Manage how people and applications sign in to this cluster. Only its admins can open this page.</p>
        {notice ? (
          <p class="notice warning" role="alert">
            <Icon name="warning" /> {notice}
          </p>
        ) : null}
        {can.entra ? (
          <a class="button primary wide" href="/portal/signin/entra">
            Sign in with Microsoft Entra ID
          </a>
        ) : null}
        {can.entra && can.citus ? (
          <div class="divider" role="separator">
            <span>or</span>
          </div>
        ) : null}
        {can.citus ? (
          <form onSubmit={(e) => void submit(e)} noValidate>
            <input type="text" name="username" value="citus" autocomplete="username" hidden readOnly />
            <div class="field">
              <label for={pwId}>Password of citus</label>
              <input
                id={pwId}
                ref={password}
                type="password"
                autocomplete="current-password"
                required
                aria-invalid={error !== undefined}
                aria-describedby={error ? errorId : undefined}
                autoFocus={!can.entra}
              />
              {error ? (
                <p class="field-error" id={errorId} role="alert">
                  <Icon name="warning" /> {error}
                </p>
              ) : null}
            </div>
            <button type="submit" class={`button wide${can.entra ? '' : ' primary'}`} disabled={busy}>
              {busy ? 'Signing in…' : 'Sign in as citus'}
            </button>
          </form>
        ) : (
          <p class="muted small">PostgreSQL authentication is disabled for this cluster, so citus cannot sign in: sign in as a Microsoft Entra admin.</p>
        )}
        {!can.citus && !can.entra ? (
          <p class="notice warning">No way to sign in is available: Microsoft Entra ID is not configured and PostgreSQL authentication is disabled.</p>
        ) : null}
      </div>
    </main>
  );
}
