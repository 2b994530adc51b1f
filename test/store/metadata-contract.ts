// The MetadataStore contract: every adapter (SQLite now, DynamoDB later) runs this same suite.
// `make` returns a fresh, empty store on the given clock; the suite closes what it opens.
// Adapter-specific checks (persistence, schema, query plans) live in the adapter's own test file.
import { describe } from 'node:test';
import { apiKeyTests } from './metadata/api-keys.js';
import { deploymentTests } from './metadata/deployments.js';
import { type MakeMetadataStore, withStoreOf } from './metadata/harness.js';
import { cascadeTests, kvTests } from './metadata/kv-cascade.js';
import { logQuotaTests } from './metadata/log-quota.js';
import { logTests, statsTests } from './metadata/logs.js';
import { functionTests, taskTests, workspaceTests } from './metadata/records.js';
import { sealedSecretTests } from './metadata/secrets.js';

export type { MakeMetadataStore } from './metadata/harness.js';

export function runMetadataStoreContract(name: string, make: MakeMetadataStore): void {
  const withStore = withStoreOf(make);
  describe(`MetadataStore contract: ${name}`, () => {
    describe('workspaces', () => workspaceTests(withStore));
    describe('functions', () => functionTests(withStore));
    describe('build tasks', () => taskTests(withStore));
    describe('execution logs', () => logTests(withStore));
    describe('execution log quota', () => logQuotaTests(withStore));
    describe('statistics', () => statsTests(withStore));
    describe('key-value data', () => kvTests(withStore));
    describe('deployments', () => deploymentTests(withStore));
    describe('API keys', () => apiKeyTests(withStore));
    describe('sealed secrets', () => sealedSecretTests(withStore));
    describe('deletes leave nothing behind', () => cascadeTests(withStore));
  });
}
