import { formatTemplate, goString } from './format-template';

const image = {
  Id: 'sha256:abc',
  RepoTags: ['busy_httpd:v0.2', 'music51555/bh:latest'],
  Author: 'alex <452427904@qq.com>',
  Config: {
    Cmd: ['/bin/httpd', '-f', '-h', '/home/html'],
    Env: ['PATH=/bin'],
    Labels: { 'org.x': '1', a: 'b' },
    Entrypoint: null,
    WorkingDir: '',
  },
  Size: 1234,
  RootFS: { Type: 'layers', Layers: ['sha256:1', 'sha256:2'] },
};

describe('--format templates', () => {
  it('prints field paths as Go does', () => {
    expect(formatTemplate('{{.Config.Cmd}}', image)).toBe('[/bin/httpd -f -h /home/html]');
    expect(formatTemplate('{{.Author}}', image)).toBe('alex <452427904@qq.com>');
    expect(formatTemplate('{{.Size}}', image)).toBe('1234');
    expect(formatTemplate('{{.Config.Labels}}', image)).toBe('map[a:b org.x:1]');
    expect(formatTemplate('{{.Config.Entrypoint}}', image)).toBe('<nil>');
    expect(formatTemplate('{{.Nope}}', image)).toBe('<no value>');
    expect(formatTemplate('id={{.Id}} tags={{.RepoTags}}', image)).toBe('id=sha256:abc tags=[busy_httpd:v0.2 music51555/bh:latest]');
  });

  it('json, index, join, len, pipelines', () => {
    expect(formatTemplate('{{json .Config.Cmd}}', image)).toBe('["/bin/httpd","-f","-h","/home/html"]');
    expect(JSON.parse(formatTemplate('{{json .Config}}', image))).toEqual(image.Config);
    expect(formatTemplate('{{.Config | json}}', image)).toBe(JSON.stringify(image.Config));
    expect(formatTemplate('{{index .Config.Labels "org.x"}}', image)).toBe('1');
    expect(formatTemplate('{{index .RepoTags 1}}', image)).toBe('music51555/bh:latest');
    expect(formatTemplate('{{join .Config.Cmd " "}}', image)).toBe('/bin/httpd -f -h /home/html');
    expect(formatTemplate('{{len .RootFS.Layers}}', image)).toBe('2');
    expect(formatTemplate('{{.Author | upper}}', image)).toBe('ALEX <452427904@QQ.COM>');
    expect(formatTemplate('{{json .}}', { a: 1 })).toBe('{"a":1}');
  });

  it('range, if/else and trim markers', () => {
    expect(formatTemplate('{{range .RepoTags}}{{.}};{{end}}', image)).toBe('busy_httpd:v0.2;music51555/bh:latest;');
    expect(formatTemplate('{{range .Config.Entrypoint}}x{{else}}none{{end}}', image)).toBe('none');
    expect(formatTemplate('{{if .Config.Cmd}}has cmd{{else}}no cmd{{end}}', image)).toBe('has cmd');
    expect(formatTemplate('{{if .Config.WorkingDir}}w{{else}}no workdir{{end}}', image)).toBe('no workdir');
    expect(formatTemplate('{{range .RootFS.Layers -}}\n  {{.}}\n{{- end}}', image)).toBe('sha256:1sha256:2');
    expect(formatTemplate('{{range $.RepoTags}}{{$.Id}} {{end}}', image)).toBe('sha256:abc sha256:abc ');
  });

  it('bad templates are one clear error', () => {
    expect(() => formatTemplate('{{.Config', image)).toThrow(/template: unclosed action/);
    expect(() => formatTemplate('{{if .A}}x', image)).toThrow(/missing \{\{end\}\}/);
    expect(() => formatTemplate('{{nosuch .A}}', image)).toThrow(/function "nosuch" not defined/);
    expect(() => formatTemplate('{{end}}', image)).toThrow(/unexpected \{\{end\}\}/);
    expect(() => formatTemplate('{{.Author.Name}}', image)).toThrow(/can't evaluate field Name/);
  });

  it('goString matches Go formatting of common values', () => {
    expect(goString([])).toBe('[]');
    expect(goString({})).toBe('map[]');
    expect(goString(true)).toBe('true');
    expect(goString([['a'], { b: 1 }])).toBe('[[a] map[b:1]]');
  });
});
