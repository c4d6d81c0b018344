// The application frame. The messaging views arrive with the desktop-app issue; for now the
// window proves the shell, the UI build and the embedding work end to end.
export function App() {
  return (
    <main class="app" aria-label="Switchboard">
      <h1>Switchboard</h1>
      <p>Your business lines, one inbox.</p>
    </main>
  );
}
