import {describe, expect, it} from 'vitest'
import {isSecretName, redactUrl} from '../../src/observability/index.js'

describe('redactUrl', () => {
  const secrets = ['api_key', 'apikey', 'API-KEY', 'key', 'token', 'access_token', 'password', 'passwd', 'secret', 'client_secret', 'auth']
  it.each([...secrets, 'x-api-key'])('treats %s as a secret', (name) => expect(isSecretName(name)).toBe(true))
  const plain = ['limit', 'offset', 'status', 'agent_id', 'plan_id', 'count']
  it.each(plain)('leaves %s alone', (name) => expect(isSecretName(name)).toBe(false))

  it("replaces only the secrets' values and keeps the rest as sent", () => {
    const url = '/api/v1/agents/?limit=5&api_key=s3cr3t&status=idle&token=t0k'
    expect(redactUrl(url)).toBe('/api/v1/agents/?limit=5&api_key=[REDACTED]&status=idle&token=[REDACTED]')
    expect(redactUrl('/x?api%5Fkey=s3cr3t&password')).toBe('/x?api%5Fkey=[REDACTED]&password=[REDACTED]')
    expect(redactUrl('/agents/')).toBe('/agents/')
  })
})
