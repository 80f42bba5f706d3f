//! The live blog: posts appear, change and disappear as they are published; view counts tick.
//! An admin's form publishes through the server's JSON API, so two windows both update.

use std::collections::BTreeMap;

use demo_events::{Post, PostDeleted, PostUpdated, Views};
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::json;

use crate::account::Session;
use crate::{api, page_stream};

/// The live blog, from a snapshot of `/api/blog/posts` and then the `/api/blog` stream.
#[component]
pub(crate) fn BlogPage() -> impl IntoView {
    let sse = page_stream("/api/blog", &["post", "update", "delete", "views"]);
    let posts = RwSignal::new(BTreeMap::<u64, Post>::new());
    // The snapshot, loaded at first and again whenever the server could not resume the stream
    // (it sends a resync instead of a silent gap): it then replaces what the page shows.
    let load_snapshot = move || {
        spawn_local(async move {
            if let Ok(snapshot) = api::get::<Vec<Post>>("/api/blog/posts").await {
                posts.set(snapshot.into_iter().map(|post| (post.id, post)).collect());
            }
        });
    };
    load_snapshot();
    sse.on_resync(move |_| load_snapshot());
    sse.on::<Post>(move |post| posts.update(|all| drop(all.insert(post.id, post))));
    sse.on::<PostUpdated>(move |update| {
        posts.update(|all| drop(all.insert(update.post.id, update.post)))
    });
    sse.on::<PostDeleted>(move |gone| posts.update(|all| drop(all.remove(&gone.id))));
    sse.on::<Views>(move |views| {
        posts.update(|all| {
            if let Some(post) = all.get_mut(&views.id) {
                post.views = views.views;
            }
        });
    });

    let (title, body, status) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    let publish = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let draft = json!({ "title": title.get_untracked(), "body": body.get_untracked() });
        spawn_local(async move {
            match api::post("/api/blog/posts", &draft).await {
                Ok(_) => {
                    title.set(String::new());
                    body.set(String::new());
                    status.set("published".into());
                }
                Err(error) => status.set(error),
            }
        });
    };
    let session = expect_context::<Session>();
    view! {
        <section class="panel" aria-labelledby="blog-title">
            <h2 id="blog-title">"Live blog"</h2>
            <Show
                when=move || session.is_admin()
                fallback=|| view! { <p class="meta">"Sign in as an admin (side panel) to write."</p> }
            >
                <form class="form" on:submit=publish aria-label="Publish a post">
                    <label>"Title" <input data-testid="post-title" required bind:value=title/></label>
                    <label>"Text" <textarea data-testid="post-body" rows="2" bind:value=body></textarea></label>
                    <button type="submit" data-testid="publish">"Publish"</button>
                    <span class="form__status" role="status">{status}</span>
                </form>
            </Show>
            <div class="posts" data-testid="posts" aria-live="polite">
                {move || {
                    let all = posts.get();
                    if all.is_empty() {
                        return view! { <p class="meta">"No posts yet."</p> }.into_any();
                    }
                    all.into_values().rev().map(|post| view! { <PostView post=post/> }).collect_view().into_any()
                }}
            </div>
        </section>
    }
}

/// One post, with its view count and admin buttons.
#[component]
fn PostView(post: Post) -> impl IntoView {
    let id = post.id;
    let view_it = move |_| {
        spawn_local(async move {
            drop(api::post(&format!("/api/blog/posts/{id}/view"), &json!({})).await)
        })
    };
    let delete_it = move |_| {
        spawn_local(async move { drop(api::delete(&format!("/api/blog/posts/{id}")).await) })
    };
    let session = expect_context::<Session>();
    view! {
        <article class="post" data-testid="post">
            <h3>{post.title}</h3>
            <p>{post.body}</p>
            <p class="meta">
                <span data-testid="views">{post.views}</span>" views "
                <button type="button" on:click=view_it>"view"</button>
                <Show when=move || session.is_admin()>
                    <button type="button" on:click=delete_it>"delete"</button>
                </Show>
            </p>
        </article>
    }
}
