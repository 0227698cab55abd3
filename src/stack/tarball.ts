import type {Readable} from 'node:stream'
import tar from 'tar-stream'

export interface TarFile {
  /** absolute path in the container */
  path: string
  content: Buffer
  mode: number
}

/** One tar of files, named relative to / (a putArchive at / puts each at its path). */
export function packFiles(files: TarFile[]): Readable {
  const pack = tar.pack()
  for (const f of files) pack.entry({name: f.path.replace(/^\/+/, ''), mode: f.mode, size: f.content.length, type: 'file'}, f.content)
  pack.finalize()
  return pack as unknown as Readable
}

export interface TarEntry {
  name: string
  type: string
  mode: number
  content: Buffer
}

/** The regular files of a tar stream (getArchive of a single path yields one entry, named by its basename). */
export async function unpackFiles(stream: NodeJS.ReadableStream): Promise<TarEntry[]> {
  const extract = tar.extract()
  const out: TarEntry[] = []
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, body, next) => {
      const chunks: Buffer[] = []
      body.on('data', (c: unknown) => chunks.push(c as Buffer))
      body.on('end', () => {
        out.push({name: header.name, type: header.type ?? 'file', mode: header.mode ?? 0o644, content: Buffer.concat(chunks)})
        next()
      })
      body.on('error', reject)
    })
    extract.on('finish', resolve)
    extract.on('error', reject)
  })
  ;(stream as Readable).pipe(extract)
  await done
  return out
}
