import {Help, type Command} from '@oclif/core'

/** A description's paragraphs are separated by a blank line; a single line break is only where the source line ended. */
export const paragraphs = (text: string): string =>
  text
    .split(/\n\s*\n/)
    .map((p) => p.replace(/\s*\n\s*/g, ' '))
    .join('\n\n')

/** oclif's help, with descriptions wrapped to the terminal instead of broken where their source lines end. */
export default class PlatformHelp extends Help {
  protected override formatCommand(command: Command.Loadable): string {
    return super.formatCommand({...command, description: command.description && paragraphs(command.description)} as Command.Loadable)
  }
}
