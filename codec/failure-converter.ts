/**
 * The failure converter named by `failureConverterPath` in {@link loadDataConverter}. With `encodeCommonAttributes`,
 * a failure's message and stack trace move into an encoded payload (so the payload codec encrypts them) and the
 * plain-text message reads "Encoded failure": error messages can quote audit data such as names and emails.
 *
 * This module is loaded by path: `require()`d by the worker and client, and bundled into the workflow sandbox by
 * the worker's bundler. It must therefore import nothing but `@temporalio/common` (no Node built-ins).
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
