// "Add PostgreSQL role" and "Reset password": panels that stage a change. The password is
// read from its input once, on Save, handed to the staged change, and the input is
// cleared; the panel then closes, so nothing on the page holds it any more.
import { useId, useRef, useState } from 'preact/hooks';
import { MAX_ROLE_NAME_BYTES, passwordOk, roleNameProblem, utf8Length } from '../rules.js';
import { Icon } from './Icon.js';
import { NewPassword } from './NewPassword.js';
import { Panel, SubmitCancel } from './Panel.js';

function readPassword(password: HTMLInputElement | null, confirm: HTMLInputElement | null): string | undefined {
  const pw = password?.value ?? '';
  const again = confirm?.value ?? '';
  return passwordOk(pw) && pw === again ? pw : undefined;
}

function clear(...inputs: Array<HTMLInputElement | null>): void {
  for (const i of inputs) if (i) i.value = '';
}

export function AddRolePanel({
  taken,
  onStage,
  onClose,
  returnFocus,
}: {
  taken: readonly string[];
  onStage: (name: string, password: string) => void;
  onClose: () => void;
  returnFocus: () => HTMLElement | null;
}) {
  const [name, setName] = useState('');
  const [submitted, setSubmitted] = useState(false);
  const password = useRef<HTMLInputElement>(null);
  const confirm = useRef<HTMLInputElement>(null);
  const nameId = useId();
  const nameHelpId = useId();
  const nameProblem = roleNameProblem(name, taken);
  const showNameProblem = nameProblem !== undefined && (submitted || name.length > 0);

  const submit = () => {
    setSubmitted(true);
    const pw = readPassword(password.current, confirm.current);
    if (nameProblem !== undefined) {
      document.getElementById(nameId)?.focus();
      return;
    }
    if (pw === undefined) {
      password.current?.focus();
      return;
    }
    clear(password.current, confirm.current);
    onStage(name, pw);
  };

  return (
    <Panel
      title="Add PostgreSQL role"
      subtitle="The role is created with LOGIN on the coordinator and every worker when you save."
      onClose={onClose}
      returnFocus={returnFocus}
      onSubmit={submit}
      footer={<SubmitCancel submit="Save" onCancel={onClose} />}
    >
      <div class="field">
        <label for={nameId}>Role name</label>
        <input
          id={nameId}
          type="text"
          value={name}
          data-autofocus
          autocomplete="off"
          spellcheck={false}
          autocapitalize="none"
          required
          aria-invalid={showNameProblem}
          aria-describedby={nameHelpId}
          onInput={(e) => setName((e.target as HTMLInputElement).value)}
        />
        <p id={nameHelpId} class={showNameProblem ? 'field-error' : 'field-help'}>
          {showNameProblem ? (
            <>
              <Icon name="warning" /> {nameProblem}
            </>
          ) : (
            `Case-sensitive; up to ${MAX_ROLE_NAME_BYTES} bytes (${utf8Length(name)} used).`
          )}
        </p>
      </div>
      <NewPassword password={password} confirm={confirm} submitted={submitted} />
    </Panel>
  );
}

export function ResetPasswordPanel({
  role,
  onStage,
  onClose,
  returnFocus,
}: {
  role: string;
  onStage: (password: string) => void;
  onClose: () => void;
  returnFocus: () => HTMLElement | null;
}) {
  const [submitted, setSubmitted] = useState(false);
  const password = useRef<HTMLInputElement>(null);
  const confirm = useRef<HTMLInputElement>(null);

  const submit = () => {
    setSubmitted(true);
    const pw = readPassword(password.current, confirm.current);
    if (pw === undefined) {
      password.current?.focus();
      return;
    }
    clear(password.current, confirm.current);
    onStage(pw);
  };

  return (
    <Panel
      title="Reset password"
      subtitle={`A new password for ${role}, on the coordinator and every worker when you save.`}
      onClose={onClose}
      returnFocus={returnFocus}
      onSubmit={submit}
      footer={<SubmitCancel submit="Save" onCancel={onClose} />}
    >
      <NewPassword password={password} confirm={confirm} submitted={submitted} label="New password" />
    </Panel>
  );
}
