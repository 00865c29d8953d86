package templates

import (
	"os/exec"
	"strings"
	"testing"
)

func TestShq(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "''"},
		{"plain", "plain"},
		{"/opt/bin/metalab", "/opt/bin/metalab"},
		{"--store=/a/b,c:d@e%f+g", "--store=/a/b,c:d@e%f+g"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"$(rm -rf /)", "'$(rm -rf /)'"},
		{"`x`", "'`x`'"},
		{"a\nb", "'a\nb'"},
		{"~", "'~'"},
		{"*", "'*'"},
		{"ü", "'ü'"},
		{hostile, `'my "exp" $(rm -rf /) ü'`},
	}
	for _, tt := range tests {
		if got := shq(tt.in); got != tt.want {
			t.Errorf("shq(%q)=%q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestShqBash checks with bash itself that a quoted word arrives unchanged.
func TestShqBash(t *testing.T) {
	words := []string{"", "plain", "a b", "it's", `"`, `\`, "$(echo no)", "`echo no`", "a\nb", "!x", "~", "*", "${HOME}", "ü", hostile, "'''"}
	script := "printf '%s\\0' " + shjoin(words)
	out, err := exec.Command("bash", "-c", script).Output()
	if err != nil {
		t.Fatalf("bash -c %q: %v", script, err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if len(got) != len(words) {
		t.Fatalf("bash saw %d words %q, want %d", len(got), got, len(words))
	}
	for i := range words {
		if got[i] != words[i] {
			t.Errorf("word %d: bash saw %q, want %q", i, got[i], words[i])
		}
	}
}

func TestSbatchQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"sweep", "sweep"},
		{"0-10%4", "0-10%4"},
		{"/data/logs/%x-%A_%a.out", "/data/logs/%x-%A_%a.out"},
		{"a b", `"a b"`},
		{"#1", `"#1"`},
		{`say "hi"`, `"say \"hi\""`},
		{`back\slash`, `"back\\slash"`},
		{"it's", `"it's"`},
		{"tab\there", "\"tab\there\""},
		{"", `""`},
	}
	for _, tt := range tests {
		got, err := sbatchQuote(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("sbatchQuote(%q)=%q,%v, want %q", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"a\nb", "a\r", "\n"} {
		if got, err := sbatchQuote(in); err == nil {
			t.Errorf("sbatchQuote(%q)=%q, want an error", in, got)
		}
	}
}

func TestJobName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"sweep", "sweep"},
		{"my-sweep_v2.1", "my-sweep_v2.1"},
		{hostile, "my_exp_rm_-rf"},
		{"a  b", "a_b"},
		{"a__b", "a_b"},
		{"a _ b", "a_b"},
		{"___x___", "x"},
		{"-rf", "rf"},
		{"..", "metalab"},
		{"", "metalab"},
		{"ü", "metalab"},
		{"données 2024", "donn_es_2024"},
		{"a'b\"c`d$e;f|g&h<i>j(k)l{m}n[o]p*q?r~s!t#u%v^w=x+y,z:1@2\\3/4", "a_b_c_d_e_f_g_h_i_j_k_l_m_n_o_p_q_r_s_t_u_v_w_x_y_z_1_2_3_4"},
		{"tab\tnew\nline", "tab_new_line"},
		{strings.Repeat("x", 100), strings.Repeat("x", JobNameMax)},
		{strings.Repeat("x", JobNameMax-1) + " y", strings.Repeat("x", JobNameMax-1)},
	}
	for _, tt := range tests {
		got := JobName(tt.in)
		if got != tt.want {
			t.Errorf("JobName(%q)=%q, want %q", tt.in, got, tt.want)
		}
		if q, err := sbatchQuote(got); err != nil || q != got || shq(got) != got {
			t.Errorf("JobName(%q)=%q needs quoting", tt.in, got)
		}
	}
}

func TestLogPatterns(t *testing.T) {
	tests := []struct{ dir, out, err, job string }{
		{"/data/store/logs/slurm", "/data/store/logs/slurm/%x-%A_%a.out", "/data/store/logs/slurm/%x-%A_%a.err", "/data/store/logs/slurm/%x-%j.out"},
		{"/data/100%/logs/", "/data/100%%/logs/%x-%A_%a.out", "/data/100%%/logs/%x-%A_%a.err", "/data/100%%/logs/%x-%j.out"},
		{"/data/a%%b", "/data/a%%%%b/%x-%A_%a.out", "/data/a%%%%b/%x-%A_%a.err", "/data/a%%%%b/%x-%j.out"},
	}
	for _, tt := range tests {
		out, err := LogPatterns(tt.dir)
		if out != tt.out || err != tt.err {
			t.Errorf("LogPatterns(%q)=%q,%q, want %q,%q", tt.dir, out, err, tt.out, tt.err)
		}
		if got := JobLogPattern(tt.dir); got != tt.job {
			t.Errorf("JobLogPattern(%q)=%q, want %q", tt.dir, got, tt.job)
		}
	}
}
