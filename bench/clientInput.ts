/**
 * What the load's child processes (`holdsClient.ts`, `holdsCostClient.ts`; started by `runClient`,
 * `inProcessServer.ts`) read first: their input, one JSON text on stdin.
 */
export const readInput = async <Input>(): Promise<Input> => {
  const chunks: Array<Buffer> = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return JSON.parse(Buffer.concat(chunks).toString("utf8")) as Input
}
