// Settings → Carrier: which account messages go through. The built-in sandbox needs none; a
// Twilio account is connected with its Account SID and Auth Token (checked with Twilio, then
// kept in the OS keychain by Rust — the page never stores them). Twilio fetches images from a
// link, so images need a media host: an S3-compatible bucket, set up here the same way.
import { createResource, createSignal, Show } from "solid-js";
import type { AccountStatus, Backend, MediaHostInput } from "../backend";
import { messageOf } from "../backend";

export function Carrier(props: {
  backend: Backend;
  online: boolean | null;
  onAccountChanged: () => void;
}) {
  const b = props.backend;
  const [account, { mutate }] = createResource(() => b.account());
  const [error, setError] = createSignal("");
  const [note, setNote] = createSignal("");
  const [busy, setBusy] = createSignal("");

  // Every change of account goes through here: one message at a time, in words.
  const act = async (doing: string, work: () => Promise<string>) => {
    setError("");
    setNote("");
    setBusy(doing);
    try {
      setNote(await work());
      mutate(await b.account());
      props.onAccountChanged();
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy("");
    }
  };

  return (
    <section class="carrier" aria-label="Carrier">
      <h3>Carrier</h3>
      <Show when={error()}>
        <p role="alert" class="error">{error()}</p>
      </Show>
      <Show when={note()}>
        <p role="status" class="muted">{note()}</p>
      </Show>
      <Show when={busy()}>
        <p role="status" class="muted">{busy()}</p>
      </Show>
      <Show when={account()} keyed>
        {(a) => (
          <Show
            when={a.carrier === "twilio"}
            fallback={<SandboxCarrier backend={b} online={props.online} busy={busy() !== ""} act={act} onError={setError} />}
          >
            <TwilioCarrier backend={b} account={a} busy={busy() !== ""} act={act} />
          </Show>
        )}
      </Show>
    </section>
  );
}

type Act = (doing: string, work: () => Promise<string>) => Promise<void>;

function SandboxCarrier(props: {
  backend: Backend;
  online: boolean | null;
  busy: boolean;
  act: Act;
  onError: (m: string) => void;
}) {
  const b = props.backend;
  const [sid, setSid] = createSignal("");
  const [token, setToken] = createSignal("");
  const connect = (e: Event) => {
    e.preventDefault();
    void props.act("Checking the account with Twilio…", async () => {
      const connected = await b.connectTwilio(sid(), token());
      setToken("");
      const names = connected.lines.map((l) => l.label).join(", ");
      return `Connected to “${connected.account_name}”. Your lines: ${names}.`;
    });
  };
  return (
    <div class="settings-grid">
      <p>Built-in sandbox: demo numbers on this computer, no account needed.</p>
      <label class="check">
        <input
          type="checkbox"
          checked={props.online === false}
          onChange={(e) =>
            void b.sandboxOnline(!e.currentTarget.checked).catch((err) => props.onError(messageOf(err)))
          }
        />
        Take the sandbox offline (to try offline sending)
      </label>
      <form class="settings-grid" aria-label="Connect your Twilio account" onSubmit={connect}>
        <h4>Connect your Twilio account</h4>
        <p class="muted">
          Both are on the Twilio Console’s home page, under “Account Info”. They are checked with Twilio, then
          kept in this computer’s keychain.
        </p>
        <label>
          Account SID
          <input
            value={sid()}
            placeholder="AC…"
            autocomplete="off"
            spellcheck={false}
            onInput={(e) => setSid(e.currentTarget.value)}
          />
        </label>
        <label>
          Auth Token
          <input
            type="password"
            value={token()}
            autocomplete="off"
            onInput={(e) => setToken(e.currentTarget.value)}
          />
        </label>
        <button type="submit" disabled={props.busy || !sid().trim() || !token().trim()}>
          Connect
        </button>
      </form>
    </div>
  );
}

function TwilioCarrier(props: { backend: Backend; account: AccountStatus; busy: boolean; act: Act }) {
  const b = props.backend;
  const a = () => props.account;
  const disconnect = () =>
    void props.act("Disconnecting…", async () => {
      await b.disconnectTwilio();
      return "Disconnected. Messages now go through the sandbox; your Twilio conversations stay here.";
    });
  return (
    <div class="settings-grid">
      <p>
        Twilio account “{a().account_name}” <span class="muted">({a().account_hint})</span>
      </p>
      <button onClick={disconnect} disabled={props.busy}>
        Disconnect Twilio
      </button>
      <Show
        when={a().media_host}
        fallback={<MediaHostForm backend={b} busy={props.busy} act={props.act} />}
      >
        {(m) => (
          <div>
            <p>
              Images go through the bucket “{m().bucket}” at {m().endpoint}.
            </p>
            <button
              disabled={props.busy}
              onClick={() =>
                void props.act("Removing the media host…", async () => {
                  await b.removeMediaHost();
                  return "Media host removed: images can't be sent until another is set up.";
                })
              }
            >
              Remove media host
            </button>
          </div>
        )}
      </Show>
    </div>
  );
}

function MediaHostForm(props: { backend: Backend; busy: boolean; act: Act }) {
  const [host, setHost] = createSignal<MediaHostInput>({
    endpoint: "",
    region: "us-east-1",
    bucket: "",
    access_key_id: "",
    secret_access_key: "",
    path_style: true,
  });
  const field = (name: keyof MediaHostInput) => (e: { currentTarget: HTMLInputElement }) =>
    setHost({ ...host(), [name]: name === "path_style" ? !e.currentTarget.checked : e.currentTarget.value });
  const save = (e: Event) => {
    e.preventDefault();
    void props.act("Checking the bucket…", async () => {
      const saved = await props.backend.setMediaHost(host());
      setHost({ ...host(), secret_access_key: "" });
      return `Images will go through the bucket “${saved.bucket}”.`;
    });
  };
  return (
    <form class="settings-grid" aria-label="Media host" onSubmit={save}>
      <h4>Media host for images</h4>
      <p class="muted">
        Twilio fetches each image from a link, so images need an S3-compatible bucket (AWS S3, Cloudflare R2,
        MinIO…). Each image gets a private link that expires after a day. Until one is set up, messages with
        images can't be sent.
      </p>
      <label>
        Endpoint
        <input value={host().endpoint} placeholder="https://s3.eu-west-1.amazonaws.com" onInput={field("endpoint")} />
      </label>
      <label>
        Region
        <input value={host().region} onInput={field("region")} />
      </label>
      <label>
        Bucket
        <input value={host().bucket} onInput={field("bucket")} />
      </label>
      <label>
        Access key ID
        <input value={host().access_key_id} autocomplete="off" onInput={field("access_key_id")} />
      </label>
      <label>
        Secret access key
        <input
          type="password"
          value={host().secret_access_key}
          autocomplete="off"
          onInput={field("secret_access_key")}
        />
      </label>
      <label class="check">
        <input type="checkbox" checked={!host().path_style} onChange={field("path_style")} />
        The bucket is part of the host name (virtual-hosted style)
      </label>
      <button type="submit" disabled={props.busy}>
        Save media host
      </button>
    </form>
  );
}
