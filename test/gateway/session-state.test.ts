// What the transaction pool refuses (src/gateway/txpool/session-state.ts): statements
// whose effect outlives their transaction, seen through comments, quotes and case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sessionStateIn } from '../../src/gateway/txpool/session-state.js';

test('refused: session settings, LISTEN, SQL prepares, WITH HOLD, lasting temporary objects, session advisory locks', () => {
  for (const sql of [
    "SET work_mem = '1MB'",
    'set search_path to public',
    'SET SESSION AUTHORIZATION alice',
    'RESET ALL',
    'LISTEN news',
    'PREPARE p AS SELECT 1',
    'DEALLOCATE ALL',
    'DISCARD ALL',
    'DECLARE c CURSOR WITH HOLD FOR SELECT 1',
    'CREATE TEMP TABLE t (id int)',
    'create temporary view v as select 1',
    'SELECT pg_advisory_lock(1)',
    'select pg_try_advisory_lock_shared(1, 2)',
    '/* a comment */ -- another\n SET x.y = 1',
    "SELECT 'a;b'; SET x.y = 1",
    'SELECT $$;$$; LISTEN x',
  ]) {
    assert.ok(sessionStateIn(sql), sql);
  }
});

test('allowed: the transaction-scoped forms, and look-alikes inside quotes and comments', () => {
  for (const sql of [
    'SET LOCAL work_mem = 1',
    'SET TRANSACTION ISOLATION LEVEL SERIALIZABLE',
    'SET CONSTRAINTS ALL DEFERRED',
    "PREPARE TRANSACTION 'x'",
    'CREATE TEMP TABLE t (id int) ON COMMIT DROP',
    'SELECT pg_advisory_xact_lock(1)',
    'DECLARE c CURSOR FOR SELECT 1',
    "SELECT 'SET x = 1'",
    "SELECT E'\\' SET x = 1'",
    'SELECT "LISTEN" FROM t',
    'SELECT $tag$ LISTEN x; SET y = 1 $tag$',
    '/* SET x = 1 /* nested */ still */ SELECT 1',
    '-- SET x = 1\nSELECT 1',
    'UNLISTEN *',
    'SELECT 1',
  ]) {
    assert.equal(sessionStateIn(sql), undefined, sql);
  }
});
