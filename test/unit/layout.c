/* Prints the libbpf struct layouts that src/dataplane/kernel/libbpf.ts hard-codes (LAYOUT), from the
 * installed headers; test/unit/layout.test.ts compiles and runs it and compares. */
#include <stdio.h>
#include <stddef.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>
#define S(s) printf("%s size %zu\n", #s, sizeof(struct s))
#define O(s, f) printf("%s %s %zu\n", #s, #f, offsetof(struct s, f))
int main(void)
{
	S(bpf_object_open_opts); O(bpf_object_open_opts, object_name); O(bpf_object_open_opts, pin_root_path);
	O(bpf_object_open_opts, kernel_log_buf); O(bpf_object_open_opts, kernel_log_size); O(bpf_object_open_opts, kernel_log_level);
	S(bpf_test_run_opts); O(bpf_test_run_opts, data_in); O(bpf_test_run_opts, data_out); O(bpf_test_run_opts, data_size_in);
	O(bpf_test_run_opts, data_size_out); O(bpf_test_run_opts, ctx_in); O(bpf_test_run_opts, ctx_out); O(bpf_test_run_opts, ctx_size_in);
	O(bpf_test_run_opts, ctx_size_out); O(bpf_test_run_opts, retval); O(bpf_test_run_opts, repeat); O(bpf_test_run_opts, duration);
	O(bpf_test_run_opts, flags); O(bpf_test_run_opts, cpu); O(bpf_test_run_opts, batch_size);
	S(bpf_xdp_attach_opts); O(bpf_xdp_attach_opts, old_prog_fd);
	S(bpf_xdp_query_opts); O(bpf_xdp_query_opts, prog_id); O(bpf_xdp_query_opts, drv_prog_id); O(bpf_xdp_query_opts, hw_prog_id);
	O(bpf_xdp_query_opts, skb_prog_id); O(bpf_xdp_query_opts, attach_mode);
	S(bpf_map_batch_opts); O(bpf_map_batch_opts, elem_flags); O(bpf_map_batch_opts, flags);
	S(bpf_map_create_opts); O(bpf_map_create_opts, btf_fd); O(bpf_map_create_opts, inner_map_fd); O(bpf_map_create_opts, map_flags);
	O(bpf_map_create_opts, numa_node); O(bpf_map_create_opts, map_ifindex);
	S(bpf_get_fd_by_id_opts); O(bpf_get_fd_by_id_opts, open_flags);
	S(bpf_obj_get_opts); O(bpf_obj_get_opts, file_flags);
	S(bpf_tc_hook); O(bpf_tc_hook, ifindex); O(bpf_tc_hook, attach_point); O(bpf_tc_hook, parent);
	S(bpf_tc_opts); O(bpf_tc_opts, prog_fd); O(bpf_tc_opts, flags); O(bpf_tc_opts, prog_id); O(bpf_tc_opts, handle); O(bpf_tc_opts, priority);
	S(bpf_prog_info); O(bpf_prog_info, type); O(bpf_prog_info, id); O(bpf_prog_info, tag); O(bpf_prog_info, load_time);
	O(bpf_prog_info, created_by_uid); O(bpf_prog_info, nr_map_ids); O(bpf_prog_info, map_ids); O(bpf_prog_info, name);
	O(bpf_prog_info, run_time_ns); O(bpf_prog_info, run_cnt);
	S(bpf_map_info); O(bpf_map_info, type); O(bpf_map_info, id); O(bpf_map_info, key_size); O(bpf_map_info, value_size);
	O(bpf_map_info, max_entries); O(bpf_map_info, map_flags); O(bpf_map_info, name);
	return 0;
}
