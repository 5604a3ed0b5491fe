// --oidc-issuer and its settings: from flags (for every issuer given as a URL) and from
// the configuration file (an issuer may be a mapping with its own settings).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asOptionValues, parseConfig } from '../../src/cli/config-file.js';
import { oidcIssuerSpecs, type OidcOptions } from '../../src/cli/oidc-options.js';
import { showSettings } from '../../src/cli/config-command.js';
import type { UpSettings } from '../../src/cli/up-settings.js';

test('flags apply to every issuer given as a URL; defaults fill the rest', () => {
  const issuers = oidcIssuerSpecs({ oidcIssuer: ['https://a.example/realms/x', 'https://b.example'], oidcAudience: ['pg'], oidcAlgorithm: ['ES256'] });
  // Both issuers get the flags' audience and algorithm, and the default claims and scope.
  const withFlags = (issuer: string) => ({
    issuer,
    audiences: ['pg'],
    nameClaim: 'preferred_username',
    subjectClaim: 'sub',
    groupsClaim: 'groups',
    algorithms: ['ES256'],
    scope: 'openid',
  });
  assert.deepEqual(issuers, [withFlags('https://a.example/realms/x'), withFlags('https://b.example')]);
});

test('the configuration file gives each issuer its own settings', () => {
  const file = parseConfig(
    'pgwarden.yaml',
    [
      'oidc-audience: api://default',
      'oidc-issuer:',
      '  - https://keycloak.example/realms/prod',
      '  - issuer: https://dev-123.okta.com/oauth2/default',
      '    audience: [api://pgwarden, api://other]',
      '    name-claim: email',
      '    subject-claim: uid',
      '    algorithm: [RS256, ES256]',
    ].join('\n'),
  );
  const opts = Object.fromEntries(asOptionValues(file)) as OidcOptions;
  const [keycloak, okta] = oidcIssuerSpecs(opts);
  assert.deepEqual(keycloak!.audiences, ['api://default']);
  assert.deepEqual(okta, {
    issuer: 'https://dev-123.okta.com/oauth2/default',
    audiences: ['api://pgwarden', 'api://other'],
    nameClaim: 'email',
    subjectClaim: 'uid',
    groupsClaim: 'groups',
    algorithms: ['RS256', 'ES256'],
    scope: 'openid',
  });
  assert.throws(
    () => parseConfig('f.yaml', 'oidc-issuer:\n  - issuer: https://x.example\n    audiance: a\n'),
    /f\.yaml:\d+: oidc-issuer: expected an issuer URL/,
  );
});

test('refusals name what is wrong', () => {
  assert.throws(() => oidcIssuerSpecs({ oidcIssuer: ['https://a.example'] }), /--oidc-issuer https:\/\/a\.example: give the audiences/);
  assert.throws(() => oidcIssuerSpecs({ oidcIssuer: ['http://a.example'], oidcAudience: ['x'] }), /an issuer is an https URL/);
  assert.throws(() => oidcIssuerSpecs({ oidcIssuer: ['https://a.example'], oidcAudience: ['x'], oidcAlgorithm: ['HS256'] }), /algorithm "HS256" is not one of/);
  assert.throws(() => oidcIssuerSpecs({ oidcIssuer: ['https://a.example', 'https://a.example'], oidcAudience: ['x'] }), /given twice/);
  assert.throws(() => oidcIssuerSpecs({ oidcAudience: ['x'] }), /go with --oidc-issuer/);
  assert.throws(
    () => oidcIssuerSpecs({ oidcIssuer: ['https://a.example'], oidcAudience: ['x'], oidcScope: 'openid  pg' }),
    /scope "openid  pg" is not a list of OAuth scopes/,
  );
});

test('config show writes an issuer given as a mapping so that the file reads it back', () => {
  const text = 'oidc-issuer:\n  - https://kc.example/realms/x\n  - issuer: https://okta.example\n    audience: [api://pg]\n    name-claim: email\n';
  const file = parseConfig('pgwarden.yaml', text);
  const values = asOptionValues(file);
  const shown = showSettings({
    options: Object.fromEntries(values) as unknown as UpSettings['options'],
    file: 'pgwarden.yaml',
    sources: new Map([...values.keys()].map((k) => [k, 'config file' as const])),
    reread: () => Promise.reject(new Error('not here')),
  });
  const line = shown.split('\n').find((l) => l.startsWith('oidc-issuer: '))!;
  assert.deepEqual(parseConfig('shown.yaml', line).values.get('oidc-issuer'), file.values.get('oidc-issuer'));
});
