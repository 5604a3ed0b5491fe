// A new password and its confirmation, with the rules checked while typing. The inputs are
// uncontrolled: the password stays in the input element until the panel reads it on
// submit; the component keeps only which rules are met.
import type { RefObject } from 'preact';
import { useId, useState } from 'preact/hooks';
import { characterClasses, passwordRules, type CharacterClasses } from '../rules.js';
import { Icon } from './Icon.js';

export interface PasswordState {
  rules: ReturnType<typeof passwordRules>;
  classes: CharacterClasses;
  empty: boolean;
  confirmTyped: boolean;
  matches: boolean;
}

const initial = (): PasswordState => ({ rules: passwordRules(''), classes: characterClasses(''), empty: true, confirmTyped: false, matches: true });

export function NewPassword({
  password,
  confirm,
  submitted,
  label = 'Password',
}: {
  password: RefObject<HTMLInputElement | null>;
  confirm: RefObject<HTMLInputElement | null>;
  submitted: boolean;
  label?: string;
}) {
  const [s, setS] = useState<PasswordState>(initial);
  const rulesId = useId();
  const confirmErrorId = useId();
  const pwId = useId();
  const confirmId = useId();

  const update = () => {
    const pw = password.current?.value ?? '';
    const again = confirm.current?.value ?? '';
    setS({ rules: passwordRules(pw), classes: characterClasses(pw), empty: pw.length === 0, confirmTyped: again.length > 0, matches: pw === again });
  };
  const visible = s.rules.filter((r) => !r.onlyWhenBroken || !r.met);
  const ok = s.rules.every((r) => r.met);
  const showMismatch = (s.confirmTyped || submitted) && !s.matches;
  const classChips: Array<[keyof CharacterClasses, string, string]> = [
    ['upper', 'A–Z', 'upper-case letters'],
    ['lower', 'a–z', 'lower-case letters'],
    ['digit', '0–9', 'digits'],
    ['symbol', '#$&', 'symbols'],
  ];

  return (
    <>
      <div class="field">
        <label for={pwId}>{label}</label>
        <input
          id={pwId}
          ref={password}
          type="password"
          autocomplete="new-password"
          required
          aria-describedby={rulesId}
          aria-invalid={submitted && !ok}
          onInput={update}
        />
        <ul class="rules" id={rulesId} aria-live="polite">
          {visible.map((r) => (
            <li class={r.met ? 'met' : submitted || !s.empty ? 'unmet' : ''} key={r.id}>
              <Icon name={r.met ? 'check' : 'dot'} />
              <span>
                {r.text}
                <span class="visually-hidden">{r.met ? ': met' : ': not met yet'}</span>
              </span>
            </li>
          ))}
        </ul>
        <div class="class-chips" aria-hidden="true">
          {classChips.map(([k, short, long]) => (
            <span class={s.classes[k] ? 'chip on' : 'chip'} title={long}>
              {short}
            </span>
          ))}
        </div>
      </div>
      <div class="field">
        <label for={confirmId}>Confirm password</label>
        <input
          id={confirmId}
          ref={confirm}
          type="password"
          autocomplete="new-password"
          required
          aria-invalid={showMismatch}
          aria-describedby={showMismatch ? confirmErrorId : undefined}
          onInput={update}
        />
        {showMismatch ? (
          <p class="field-error" id={confirmErrorId}>
            <Icon name="warning" /> The passwords do not match.
          </p>
        ) : null}
      </div>
    </>
  );
}
