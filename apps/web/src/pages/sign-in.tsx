// Sign in with a platform user's name and password: the server answers a session cookie; the
// password goes no further than this request (nothing is kept in the browser).
import { useState, type FormEvent } from 'react';
import { useNavigate, useSearchParams } from 'react-router';
import { Button, Form, Input, Label, TextField } from 'react-aria-components';
import { ApiError } from '../api';
import { usePageTitle } from '../app';
import { useSession } from '../session';
import { ErrorText } from '../feedback';

export function SignInPage() {
  usePageTitle('Sign in');
  const { signIn } = useSession();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await signIn(username, password);
      setPassword('');
      navigate('/repositories');
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 429
          ? 'Too many failed sign-ins. Wait a few minutes, then try again.'
          : err instanceof ApiError && err.status === 401
            ? 'The user name or password is not right.'
            : err instanceof ApiError && err.status === 403
              ? 'This account cannot sign in here (robot accounts use their secret with docker login).'
              : 'Signing in failed. Try again.',
      );
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="narrow">
      <h1>Sign in</h1>
      {params.get('signed-out') ? (
        <p role="status" className="notice">
          You signed out. Your session has ended on the server.
        </p>
      ) : null}
      <Form onSubmit={submit} className="form">
        <TextField name="username" isRequired value={username} onChange={setUsername} autoComplete="username">
          <Label>User name</Label>
          <Input />
        </TextField>
        <TextField name="password" type="password" isRequired value={password} onChange={setPassword} autoComplete="current-password">
          <Label>Password</Label>
          <Input />
        </TextField>
        <ErrorText error={error} />
        <Button type="submit" className="button" isDisabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </Button>
      </Form>
      <p className="hint">Without signing in you see public repositories only.</p>
    </section>
  );
}
