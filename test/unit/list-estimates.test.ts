/**
 * The kept planner estimates of large list matches: asked once per key within the time they are
 * kept, asked again after it, and bounded in number. The clock is a unit-test double (a counter);
 * the db tier's list tests run the same class inside L01 on both engines.
 */
import {describe, expect, it} from 'vitest'
import {Estimates} from '../../src/data-layer/table.js'

function counted(values: number[]) {
  const asked: string[] = []
  return {
    asked,
    ask: (key: string) => () => {
      asked.push(key)
      return Promise.resolve(values.shift() ?? -1)
    },
  }
}

describe('list estimates', () => {
  it('asks once per key while an answer is kept, and again once it is older than the time it is kept', async () => {
    let now = 0
    const kept = new Estimates({ttlMs: 1000, now: () => now})
    const p = counted([50_000, 7, 60_000])
    expect(await kept.get('agents', p.ask('agents'))).toBe(50_000)
    now = 999
    expect(await kept.get('agents', p.ask('agents'))).toBe(50_000)
    expect(await kept.get('goals', p.ask('goals'))).toBe(7)
    now = 1000
    expect(await kept.get('agents', p.ask('agents'))).toBe(60_000)
    expect(p.asked).toEqual(['agents', 'goals', 'agents'])
  })

  it('keeps at most max answers, giving up the oldest first', async () => {
    const kept = new Estimates({max: 2, now: () => 0})
    const p = counted([1, 2, 3, 4, 5])
    await kept.get('a', p.ask('a'))
    await kept.get('b', p.ask('b'))
    await kept.get('c', p.ask('c')) // a is given up
    expect(await kept.get('b', p.ask('b'))).toBe(2)
    expect(await kept.get('a', p.ask('a'))).toBe(4)
    expect(p.asked).toEqual(['a', 'b', 'c', 'a'])
  })

  it('keeps nothing from a question that failed', async () => {
    const kept = new Estimates({now: () => 0})
    await expect(kept.get('a', () => Promise.reject(new Error('database gone')))).rejects.toThrow('database gone')
    expect(await kept.get('a', () => Promise.resolve(9))).toBe(9)
  })
})
