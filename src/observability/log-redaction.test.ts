import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { redactSecretsIn } from './log-redaction';

describe('redactSecretsIn', () => {
  it('cuts the password out of connection URLs, whatever the scheme', () => {
    assert.equal(
      redactSecretsIn('connect to postgres://owner:s3cr%40t@db:5432/app and redis://:pw@cache:6379/0'),
      'connect to postgres://owner:[Redacted]@db:5432/app and redis://:[Redacted]@cache:6379/0',
    );
  });

  it('cuts secrets out of query strings and keeps the other parameters', () => {
    assert.equal(
      redactSecretsIn('/users?access_token=abc.def&limit=5&api_key=k1&password=p&q=x'),
      '/users?access_token=[Redacted]&limit=5&api_key=[Redacted]&password=[Redacted]&q=[Redacted]',
    );
  });

  it("cuts out a search term: it may be an encrypted column's plaintext (GET /users?q=<email>)", () => {
    assert.equal(redactSecretsIn('/users?limit=20&q=ada%40acme.test'), '/users?limit=20&q=[Redacted]');
    assert.equal(redactSecretsIn('/users?q=ada@acme.test&limit=20'), '/users?q=[Redacted]&limit=20');
    assert.equal(redactSecretsIn('/users?sq=kept&faq=kept'), '/users?sq=kept&faq=kept');
  });

  it('leaves text without secrets as it is', () => {
    for (const text of ['GET /users/42', 'mail ada@example.com', 'a=b', 'postgres://host/db']) assert.equal(redactSecretsIn(text), text);
  });
});
