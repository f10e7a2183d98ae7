/**
 * Names and summaries from Atlassian are free text typed by people: they may hold newlines, terminal escapes or
 * Unicode direction overrides. Before such text goes into a one-line log `message` it is made safe to read:
 * HTML and any other Unicode stay as they are (the message is plain text in JSON, nothing renders it), but
 * characters that would break the line or visually reorder the sentence are replaced by a space.
 */

/**
 * C0/C1 control characters (newline, tab, escape…), the Unicode line and paragraph separators, and the
 * bidirectional marks and overrides (a name holding U+202E would display the rest of the sentence backwards).
 */
const SENTENCE_BREAKING_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const ELLIPSIS = '…';

/** One line of readable text, at most `maxChars` code points; a longer text is shortened with an ellipsis. */
export function readableText(value: string, maxChars: number): string {
  const oneLine = value.replace(SENTENCE_BREAKING_CHARACTERS, ' ').replace(/\s+/g, ' ').trim();
  // Counting code points, not UTF-16 units, so the cut never splits an emoji or other astral character in two.
  const codePoints = Array.from(oneLine);
  return codePoints.length <= maxChars ? oneLine : `${codePoints.slice(0, maxChars - 1).join('')}${ELLIPSIS}`;
}
