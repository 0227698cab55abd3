import {PlatformError, parseDuration} from '../core/index.js'

export {parseDuration}

export interface Profile {
  name: string
  users: number
  /** users started per second */
  spawnRate: number
  durationS: number
}

/** The contract's profiles (users / spawn rate per s / duration). */
export const PROFILES: Record<'smoke' | 'normal' | 'peak' | 'endurance', Profile> = {
  smoke: {name: 'smoke', users: 10, spawnRate: 5, durationS: 60},
  normal: {name: 'normal', users: 50, spawnRate: 10, durationS: 300},
  peak: {name: 'peak', users: 200, spawnRate: 20, durationS: 600},
  endurance: {name: 'endurance', users: 100, spawnRate: 10, durationS: 1800},
}

export interface ProfileInput {
  profile: string
  users?: number
  spawnRate?: number
  duration?: string
}

/** A named profile with overrides, or a custom one from --users, --spawn-rate and --duration. */
export function resolveProfile(input: ProfileInput): Profile {
  const base = (PROFILES as Record<string, Profile>)[input.profile]
  if (!base && input.profile !== 'custom') {
    throw new PlatformError('USAGE', `unknown profile "${input.profile}"`, {
      suggestion: `use one of: ${[...Object.keys(PROFILES), 'custom'].join(', ')}`,
    })
  }
  if (!base && (input.users === undefined || input.spawnRate === undefined || input.duration === undefined)) {
    throw new PlatformError('USAGE', 'the custom profile needs --users, --spawn-rate and --duration', {
      suggestion: 'e.g. platform test load custom --users 300 --spawn-rate 30 --duration 2m',
    })
  }
  const p: Profile = {
    name: input.profile,
    users: input.users ?? base!.users,
    spawnRate: input.spawnRate ?? base!.spawnRate,
    durationS: input.duration !== undefined ? parseDuration(input.duration) : base!.durationS,
  }
  if (p.users < 1 || p.spawnRate <= 0 || p.durationS <= 0)
    throw new PlatformError('USAGE', 'users, spawn rate and duration must be positive')
  return p
}
