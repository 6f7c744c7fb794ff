/**
 * Modal dialogs on the native <dialog> element (showModal: focus moves in, stays in, Escape
 * closes, focus returns to the opener). A form dialog with one text field, and a confirmation.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { t } from '../i18n';

export function Dialog(props: { title: string; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => d?.close();
  }, []);
  return (
    <dialog
      ref={ref}
      class="dialog"
      aria-labelledby="dialog-title"
      onCancel={(e) => {
        e.preventDefault();
        props.onClose();
      }}
    >
      <h2 id="dialog-title">{props.title}</h2>
      {props.children}
    </dialog>
  );
}

/** A dialog asking for one value; `submit` may throw (the message is shown in the dialog). */
export function PromptDialog(props: {
  title: string;
  label: string;
  initial: string;
  action: string;
  hint?: string;
  submit: (value: string) => Promise<void>;
  onClose: () => void;
  errorText: (e: unknown) => string;
}) {
  const [value, setValue] = useState(props.initial);
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    const el = input.current;
    if (!el) return;
    el.focus();
    // Select the name without its extension, as file managers do.
    const dot = props.initial.lastIndexOf('.');
    el.setSelectionRange(0, dot > 0 ? dot : props.initial.length);
  }, []);
  return (
    <Dialog title={props.title} onClose={props.onClose}>
      <form
        class="form"
        onSubmit={(e) => {
          e.preventDefault();
          setBusy(true);
          setError(undefined);
          props
            .submit(value.trim())
            .then(props.onClose)
            .catch((err: unknown) => setError(props.errorText(err)))
            .finally(() => setBusy(false));
        }}
      >
        <div class="field">
          <label for="dialog-value">{props.label}</label>
          <input
            id="dialog-value"
            ref={input}
            required
            value={value}
            onInput={(e) => setValue(e.currentTarget.value)}
            {...(props.hint ? { 'aria-describedby': 'dialog-hint' } : {})}
          />
          {props.hint && (
            <p id="dialog-hint" class="hint">
              {props.hint}
            </p>
          )}
        </div>
        {error && (
          <p class="error-text" role="alert">
            {error}
          </p>
        )}
        <div class="actions">
          <button type="submit" class="button-primary" disabled={busy}>
            {props.action}
          </button>
          <button type="button" class="button-quiet" onClick={props.onClose}>
            {t('common.cancel')}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function ConfirmDialog(props: {
  title: string;
  text: string;
  action: string;
  danger?: boolean;
  confirm: () => Promise<void>;
  onClose: () => void;
  errorText: (e: unknown) => string;
}) {
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  return (
    <Dialog title={props.title} onClose={props.onClose}>
      <p>{props.text}</p>
      {error && (
        <p class="error-text" role="alert">
          {error}
        </p>
      )}
      <div class="actions">
        <button
          type="button"
          class={props.danger ? 'button-danger' : 'button-primary'}
          disabled={busy}
          onClick={() => {
            setBusy(true);
            setError(undefined);
            props
              .confirm()
              .then(props.onClose)
              .catch((err: unknown) => setError(props.errorText(err)))
              .finally(() => setBusy(false));
          }}
        >
          {props.action}
        </button>
        <button type="button" class="button-quiet" onClick={props.onClose} autoFocus>
          {t('common.cancel')}
        </button>
      </div>
    </Dialog>
  );
}
