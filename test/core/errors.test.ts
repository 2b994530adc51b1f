// The error catalogue: every code has a status and is documented in the README's error table.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { ERROR_CATALOGUE, EunhaError } from '../../src/core/errors.js';

describe('error catalogue', () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

  for (const [code, spec] of Object.entries(ERROR_CATALOGUE)) {
    test(`${code} is documented with its status`, () => {
      assert.ok(spec.status >= 400 && spec.status < 600);
      assert.match(
        readme,
        new RegExp(`\\|\\s*\`${code}\`\\s*\\|\\s*${spec.status}\\s*\\|`),
        `README lacks a row for ${code}`,
      );
    });
  }

  test('the body has the seed envelope', () => {
    const e = new EunhaError('NOT_FOUND', 'gone', { field: 'x' });
    assert.deepEqual(e.toBody(), { error: { code: 'NOT_FOUND', message: 'gone', details: { field: 'x' } } });
    assert.equal(e.status, 404);
  });
});
