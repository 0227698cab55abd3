import {randomBytes} from 'node:crypto'
import {chmodSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import type {PlatformConfig} from './config.js'
import {PlatformError} from './errors.js'

/** A random key: 32 bytes, base64url (43 characters). */
export const generateKey = (): string => randomBytes(32).toString('base64url')

/**
 * The key stored at path, created (mode 0600) on first use. Created with O_EXCL so two
 * processes starting at once agree on one key.
 */
export function readOrCreateKey(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  mkdirSync(dirname(path), {recursive: true, mode: 0o700})
  try {
    writeFileSync(path, `${generateKey()}\n`, {flag: 'wx', mode: 0o600})
    chmodSync(path, 0o600)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  return readFileSync(path, 'utf8').trim()
}

export const internalKeyPath = (config: PlatformConfig): string => join(config.stateDir, 'internal.key')

/** The key L09 sends and L01 requires: L01_API_KEY, else the one kept under .platform/. */
export function internalKey(config: PlatformConfig, env: NodeJS.ProcessEnv = process.env): string {
  return env.L01_API_KEY || readOrCreateKey(internalKeyPath(config))
}

export const apiKeyPath = (config: PlatformConfig): string => join(config.stateDir, 'api.key')

/** The keys L09 accepts: PLATFORM_API_KEYS (comma-separated), else the one kept under .platform/. */
export function gatewayKeys(config: PlatformConfig, env: NodeJS.ProcessEnv = process.env): string[] {
  const configured = (env.PLATFORM_API_KEYS ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean)
  return configured.length ? configured : [readOrCreateKey(apiKeyPath(config))]
}

/** A value fit to show: the password of a URL is masked; anything else is shown as it is. */
export function maskSecret(value: unknown): unknown {
  if (typeof value !== 'string' || !/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return value
  try {
    const url = new URL(value)
    if (!url.password) return value
    url.password = '****'
    return url.toString()
  } catch {
    return value
  }
}

/** The variables that may come from a file instead (NAME_FILE), as Docker secrets are mounted. */
const FROM_FILE = ['L01_API_KEY', 'PLATFORM_API_KEYS', 'PLATFORM_API_KEY', 'DATABASE_URL'] as const

/**
 * NAME_FILE for each secret variable, read into NAME when NAME itself is unset: how a Swarm
 * service gets its keys from /run/secrets without them showing in its environment.
 */
export function secretsFromFiles(env: NodeJS.ProcessEnv = process.env): void {
  for (const name of FROM_FILE) {
    const file = env[`${name}_FILE`]
    if (!file || env[name]) continue
    try {
      env[name] = readFileSync(file, 'utf8').trim()
    } catch (err) {
      throw new PlatformError('CONFIG_INVALID', `${name}_FILE=${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? err})`, {
        suggestion: `point ${name}_FILE at a readable file, or set ${name} itself`,
        cause: err,
      })
    }
  }
}
