// POST /api/v1/scaffold returns a SpinApp manifest that validates against SpinKube's SpinApp CRD
// schema (test/fixtures/spinapp-crd.yaml, core.spinkube.dev/v1alpha1), with the seed's labels,
// autoscaling/replicas and spot rules.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';

const crd = parse(
  readFileSync(new URL('../../../test/fixtures/spinapp-crd.yaml', import.meta.url), 'utf8'),
) as {
  spec: { group: string; versions: Array<{ name: string; schema: { openAPIV3Schema: object } }> };
};
const version = crd.spec.versions.find((v) => v.name === 'v1alpha1')!;
const ajv = new Ajv({ strict: false, allErrors: true });
(createRequire(import.meta.url)('ajv-formats') as (a: Ajv) => void)(ajv);
ajv.addFormat('int32', true).addFormat('int64', true).addFormat('int-or-string', true);
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- manifests are read loosely in assertions
type Json = any;
const validateSpinApp = ajv.compile<Json>(version.schema.openAPIV3Schema);

describe('SpinApp scaffold', () => {
  let p: TestPlatform;
  before(async () => {
    p = await startTestPlatform();
  });
  after(async () => p.cleanup());

  const scaffold = (payload: object) => p.app.inject({ method: 'POST', url: '/api/v1/scaffold', payload });

  test('the CRD fixture is the SpinKube one', () => {
    assert.equal(crd.spec.group, 'core.spinkube.dev');
  });

  test('a fixed-replica manifest validates against the CRD', async () => {
    const res = await scaffold({
      image_ref: 'registry.example.com/team/hello:v1',
      replicas: 3,
      function_id: 'fn-abc12345',
    });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.success, true);
    assert.equal(body.error, null);
    const doc = parse(body.yaml_content) as Json;
    assert.ok(validateSpinApp(doc), JSON.stringify(validateSpinApp.errors));
    assert.equal(doc.apiVersion, 'core.spinkube.dev/v1alpha1');
    assert.equal(doc.kind, 'SpinApp');
    assert.equal(doc.metadata.name, 'hello');
    assert.equal(doc.metadata.labels['app.kubernetes.io/managed-by'], 'eunha');
    assert.deepEqual(doc.spec.podLabels, { faas: 'true', function_id: 'fn-abc12345' });
    assert.equal(doc.spec.replicas, 3);
    assert.equal(doc.spec.enableAutoscaling, false);
    assert.equal(doc.spec.image, 'registry.example.com/team/hello:v1');
  });

  test('autoscaling omits replicas; spot adds the spot rule', async () => {
    const res = await scaffold({
      image_ref: 'local/ws-x/app:0123@sha256:' + 'a'.repeat(64),
      enable_autoscaling: true,
      use_spot: true,
      component: 'app',
    });
    const doc = parse(res.json().yaml_content) as Json;
    assert.ok(validateSpinApp(doc), JSON.stringify(validateSpinApp.errors));
    assert.equal(doc.spec.replicas, undefined);
    assert.equal(doc.spec.enableAutoscaling, true);
    assert.deepEqual(doc.spec.components, ['app']);
    assert.equal(doc.spec.podAnnotations['eunha.dev/spot'], 'preferred');
  });

  test('bad input is refused', async () => {
    for (const [payload, field] of [
      [{}, 'image_ref'],
      [{ image_ref: 'x', replicas: 0 }, 'replicas'],
      [{ image_ref: 'x', namespace: 'Not_A_Namespace' }, 'namespace'],
      [{ image_ref: 'x', function_id: 'has space' }, 'function_id'],
      [{ image_ref: 'x', component: 'Bad Name!' }, 'component'],
      [{ image_ref: 'x', component: 'a\nkind: Secret' }, 'component'],
    ] as const) {
      const res = await scaffold(payload);
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      assert.equal(res.json().error.details.field, field);
    }
  });
});
