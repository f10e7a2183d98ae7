import { readFile } from 'node:fs/promises';
import { ApplicationFailure } from '@temporalio/common';
import type { CredentialRef } from '../shared/credential-ref';
import { isCredentialRef } from '../shared/credential-ref';
import { FailureType, type CredentialOwner, type FailureDetails } from '../shared/failure-types';

export type { CredentialOwner };

/**
 * Resolves a credential reference where the activity runs. The secret stays in the worker's memory; failures
 * name the reference (`env:DD_API_KEY`), never its value.
 */
export async function resolveCredential(
  credential: CredentialRef,
  owner: CredentialOwner,
  env: NodeJS.ProcessEnv
): Promise<string> {
  const { ref } = credential;
  if (!isCredentialRef(ref)) {
    throw unavailable(owner, `credential reference of an unknown form (expected env:NAME or file:/path)`);
  }
  if (ref.startsWith('env:')) {
    const value = env[ref.slice('env:'.length)]?.trim();
    if (!value) throw unavailable(owner, `${ref} is not set on the worker`);
    return value;
  }
  const path = ref.slice('file:'.length);
  let content: string;
  try {
    content = await readFile(path, 'utf8');
  } catch (err) {
    throw unavailable(owner, `${ref} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const value = content.trim();
  if (!value) throw unavailable(owner, `${ref} is empty`);
  return value;
}

function unavailable(owner: CredentialOwner, detail: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureType.CredentialUnavailable,
    message: `${owner} credential unavailable: ${detail}`,
    nonRetryable: true,
    details: [{ owner } satisfies FailureDetails],
  });
}
