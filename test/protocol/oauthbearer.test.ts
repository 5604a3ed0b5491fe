// The OAUTHBEARER codec (RFC 7628 as PostgreSQL 18 speaks it): the client's initial
// response, Bearer credentials, the server's challenge; random and mutated input never
// throws anything but a PgwardenError.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { bearerToken, checkErrorAcknowledgement, errorChallenge, parseClientInitialResponse } from '../../src/protocol/oauthbearer.js';
import { PgwardenError } from '../../src/util/errors.js';

const S = '\x01';

test('the auth value of an initial response: a token, or empty for discovery', () => {
  assert.equal(parseClientInitialResponse(`n,,${S}auth=Bearer abc.def-_${S}${S}`), 'Bearer abc.def-_');
  assert.equal(parseClientInitialResponse(`y,,${S}host=db${S}auth=${S}port=5432${S}${S}`), '', 'unknown keys are ignored');
  assert.equal(parseClientInitialResponse(`n,,${S}auth=${S}${S}`), '');
});

test('what PostgreSQL refuses is refused, with words that never echo the message', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty/],
    [`p=tls-server-end-point,,${S}auth=${S}${S}`, /channel binding/],
    [`x,,${S}auth=${S}${S}`, /channel-binding flag/],
    [`n;,${S}auth=${S}${S}`, /Comma expected/],
    [`n,b,${S}auth=${S}${S}`, /Unexpected attribute/],
    [`n,,auth=${S}${S}`, /separator expected/],
    [`n,,${S}auth=x${S}`, /final terminator/],
    [`n,,${S}auth=x${S}${S}more`, /additional data/],
    [`n,,${S}auth${S}${S}`, /key without a value/],
    [`n,,${S}au th=x${S}${S}`, /invalid key name/],
    [`n,,${S}auth=\x02${S}${S}`, /invalid value/],
    [`n,,${S}auth=a${S}auth=b${S}${S}`, /multiple auth values/],
    [`n,,${S}host=x${S}${S}`, /does not contain an auth value/],
    [`n,,${S}auth=secret\0${S}${S}`, /NUL/],
  ];
  for (const [message, detail] of cases) {
    assert.throws(
      () => parseClientInitialResponse(message),
      (e: unknown) => e instanceof PgwardenError && e.code === 'PROTOCOL_VIOLATION' && detail.test(e.detail ?? '') && !(e.detail ?? '').includes('secret'),
      JSON.stringify(message),
    );
  }
  assert.throws(
    () => parseClientInitialResponse(`n,a=alice,${S}auth=${S}${S}`),
    (e: unknown) => e instanceof PgwardenError && e.code === 'FEATURE_NOT_SUPPORTED',
  );
});

test('Bearer credentials: the scheme in any case, RFC 6750 b64token only', () => {
  assert.equal(bearerToken('Bearer eyJ.a-b_c.d~+/=='), 'eyJ.a-b_c.d~+/==');
  assert.equal(bearerToken('bEaReR   tok'), 'tok');
  for (const bad of ['Bearer', 'Bearer ', 'Basic abc', 'Bearer a b', 'Bearer a=b', 'Bearertok', 'Bearer tök']) assert.equal(bearerToken(bad), undefined, bad);
});

test("the server's challenge and the client's one acknowledgement", () => {
  assert.deepEqual(JSON.parse(errorChallenge('https://idp/t/v2.0/.well-known/openid-configuration', 'api://x/.default')), {
    status: 'invalid_token',
    'openid-configuration': 'https://idp/t/v2.0/.well-known/openid-configuration',
    scope: 'api://x/.default',
  });
  checkErrorAcknowledgement(S);
  for (const bad of ['', `${S}${S}`, 'x']) assert.throws(() => checkErrorAcknowledgement(bad), /malformed OAUTHBEARER message/);
});

test('random and mutated messages: a PgwardenError or a value, nothing else', () => {
  const valid = fc
    .tuple(
      fc.constantFrom('n', 'y'),
      fc.string({ maxLength: 40 }),
      fc.array(fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 20 })), { maxLength: 3 }),
    )
    .map(([flag, token, pairs]) => `${flag},,${S}${pairs.map(([k, v]) => `${k}=${v}${S}`).join('')}auth=Bearer ${token}${S}${S}`);
  const mutated = fc
    .tuple(valid, fc.nat(), fc.string({ maxLength: 3 }))
    .map(([m, at, insert]) => m.slice(0, at % (m.length + 1)) + insert + m.slice(at % (m.length + 1)));
  fc.assert(
    fc.property(fc.oneof(valid, mutated, fc.string({ maxLength: 60 })), (message) => {
      try {
        const auth = parseClientInitialResponse(message);
        bearerToken(auth);
      } catch (e) {
        if (!(e instanceof PgwardenError)) throw e;
      }
    }),
    { numRuns: Number(process.env.FUZZ_RUNS ?? 300) },
  );
});
