// Role settings are written back the way pg_dump writes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { settingValueSql, splitGucList } from '../../src/reconcile/plan-settings.js';

test('GUC lists split like SplitGUCList', () => {
  assert.deepEqual(splitGucList('"$user", public'), ['$user', 'public']);
  assert.deepEqual(splitGucList('""'), ['']);
  assert.deepEqual(splitGucList('"a, b"'), ['a, b']);
  assert.deepEqual(splitGucList('"My ""Schema""" ,  x'), ['My "Schema"', 'x']);
  assert.deepEqual(splitGucList(''), []);
  assert.equal(splitGucList('"open'), undefined);
  assert.equal(splitGucList('a b'), undefined);
});

test('list settings become one literal per element, others one literal', () => {
  assert.equal(settingValueSql('search_path', '"$user", public, "My Schema"'), "'$user', 'public', 'My Schema'");
  assert.equal(settingValueSql('search_path', '""'), "''");
  assert.equal(settingValueSql('DateStyle', 'ISO, MDY'), "'ISO, MDY'");
  assert.equal(settingValueSql('myapp.greeting', "it's"), "'it''s'");
});
